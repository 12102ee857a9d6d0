"""Inputs taken from several threads at once: on SQLite in one transaction per group, each as `take` alone.

The first thread's input holds its group open until the others have queued, so the
grouping is certain, not a matter of timing: the others are then taken together.
"""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from jcbot.services.context import ServiceContext
from jcbot.services.intake import Case, Input
from jcbot.services.intake.group import Group, group_of
from jcbot.services.intake.rules import DIRECT
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Decision

from .helpers import committee, distributed, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")


def _input(ref: str, handle: str, key: str, before=None) -> Input:
    def make(tx) -> Case:
        if before is not None:
            before()
        return Case(tx, "email", key, "affirmative", ref=ref, handle=handle)

    return Input(f"email:{handle}", DIRECT, make)


def _queued(group: Group, want: int) -> None:
    """Wait (in the first group's transaction) until `want` more inputs are waiting."""
    end = time.monotonic() + 30
    while len(group._queue) < want:
        assert time.monotonic() < end, f"only {len(group._queue)} of {want} inputs queued"
        time.sleep(0.005)


def _run_all(ctx: ServiceContext, inputs: list[Input]) -> list:
    group, results = group_of(ctx), [None] * len(inputs)

    def one(i: int) -> None:
        try:
            results[i] = group.take(inputs[i])
        except Exception as error:  # noqa: BLE001 - the test reads it
            results[i] = error

    first = threading.Thread(target=one, args=(0,))
    first.start()
    while group.together and not group._taking:  # the first thread leads before the others come
        time.sleep(0.001)
    rest = [threading.Thread(target=one, args=(i,)) for i in range(1, len(inputs))]
    for t in rest:
        t.start()
    for t in [first, *rest]:
        t.join(60)
    return results


def test_inputs_from_many_threads_are_taken_in_groups_each_as_alone(ctx, engine):
    committee(ctx)
    refs = [distributed(ctx), distributed(ctx, title="Register MN002")]
    tick(ctx.clock)
    group = group_of(ctx)
    together = group.together  # SQLite: grouped; PostgreSQL: a transaction each
    hold = (lambda: _queued(group, 12)) if together else None
    inputs = [_input(refs[0], "tanaka", "<t0@x>", hold)]
    inputs += [_input(ref, h, f"<{h}-{n}@x>") for n, ref in enumerate(refs) for h in MEMBERS if (ref, h) != (refs[0], "tanaka")]
    assert inputs[7].actor == "email:sato" and inputs[7].make_case(None).evidence_key == "<sato-1@x>"
    inputs += [_input(refs[1], "sato", "<sato-1@x>")]        # the same evidence again: a duplicate
    inputs += [_input(refs[1], "nobody", "<nobody@x>")]      # refused: not a member

    original = 7  # refs[1]'s "<sato-1@x>", which input 12 repeats
    results = _run_all(ctx, inputs)

    outcomes = [r.outcome for r in results]
    # The same evidence twice, delivered side by side: either may be taken first (the threads
    # queue, or on PostgreSQL lock the proposal, in whatever order they run); exactly one is recorded.
    assert sorted([outcomes[original], outcomes[12]]) == ["duplicate", "recorded"]
    assert [o for n, o in enumerate(outcomes[:12]) if n != original] == ["recorded"] * 11
    assert outcomes[13] == "refused"
    assert group.groups == (2 if together else 0)
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(AssertionRecord)) == 12
        assert s.scalar(select(func.count()).select_from(Decision)) == 2  # both adopted, each once
    assert group_of(ctx) is group  # one per context


def test_an_input_that_raises_fails_alone(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    group = group_of(ctx)
    hold = (lambda: _queued(group, 2)) if group.together else None

    def broken(tx) -> Case:
        raise RuntimeError("this input's case cannot be made")

    inputs = [_input(ref, "tanaka", "<t@x>", hold), Input("email:sato", DIRECT, broken), _input(ref, "bat", "<b@x>")]
    results = _run_all(ctx, inputs)

    assert results[0].outcome == "recorded" and results[2].outcome == "recorded"
    assert isinstance(results[1], RuntimeError)
    with session_scope(engine) as s:
        assert sorted(s.scalars(select(AssertionRecord.member))) == ["bat", "tanaka"]

