"""jcbot.services.groupcommit: what concurrent callers submit, written together, each caller told its own result."""
from __future__ import annotations

import asyncio

import pytest

from jcbot.services.groupcommit import GroupCommit


async def test_outcomes_wait_for_company_and_a_start_is_written_at_once():
    writes: list[list[str]] = []

    def write(items):
        writes.append(list(items))
        return [None] * len(items)

    # A minute of lingering: only enough outcomes, or a start, end the wait.
    group = GroupCommit(write, linger_s=60, urgent=lambda item: item.startswith("start"), enough=3)
    await asyncio.wait_for(asyncio.gather(group.submit("sent 1"), group.submit("sent 2"), group.submit("sent 3")), 10)
    assert writes == [["sent 1", "sent 2", "sent 3"]]
    first = asyncio.ensure_future(group.submit("sent 4"))
    await asyncio.sleep(0.05)
    assert writes[1:] == []  # one outcome alone waits for others
    await asyncio.wait_for(asyncio.gather(first, group.submit("start 5")), 10)
    assert writes[1:] == [["sent 4", "start 5"]]  # a start is not kept waiting, and takes the outcome along


async def test_a_failed_write_fails_every_caller_of_its_group_and_the_next_group_is_written():
    writes: list[list[str]] = []

    def write(items):
        writes.append(list(items))
        if "bad" in items:
            raise RuntimeError("database gone")
        return [item.upper() for item in items]

    group = GroupCommit(write, linger_s=60, enough=2)
    results = await asyncio.wait_for(asyncio.gather(group.submit("a"), group.submit("bad"), return_exceptions=True), 10)
    assert [str(r) for r in results] == ["database gone", "database gone"]
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await asyncio.wait_for(asyncio.gather(group.submit("c"), group.submit("d")), 10) == ["C", "D"]
    assert writes == [["a", "bad"], ["c", "d"]]


async def test_each_caller_gets_the_result_of_its_own_item():
    group = GroupCommit(lambda items: [len(item) for item in items])
    assert await asyncio.wait_for(asyncio.gather(*(group.submit("x" * n) for n in (3, 1, 2))), 10) == [3, 1, 2]
    with pytest.raises(TypeError):
        await asyncio.wait_for(group.submit(None), 10)  # the write's own error, as raised
