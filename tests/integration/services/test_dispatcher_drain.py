"""The dispatcher's drain: the next batch claimed while the last is sending, batches prepared before their sends."""
from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from jcbot.clock import ManualClock
from jcbot.services.dispatcher import Dispatcher
from jcbot.store import outbox
from jcbot.store.db import session_scope
from jcbot.store.outbox import OutboxMessage

from .helpers import engine  # noqa: F401 - fixture: a migrated database of db_url

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MAIL = "From: jc@example.org\r\nTo: alice@example.org\r\nSubject: Proposal 7\r\n\r\nPlease assert.\r\n"


def put(engine, key: str) -> int:
    payload = outbox.email_payload(MAIL, mail_from="jc@example.org", rcpt_to=["alice@example.org"])
    with session_scope(engine) as session:
        return outbox.enqueue(session, now=T0, channel="email", kind="distribution",
                              recipient="Alice <alice@example.org>", dedupe_key=key, payload=payload).id


def stored(engine, message_id) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, message_id)


class Holding:
    """Holds the send of `held` until a message of a later batch is being sent (or 10 s pass)."""

    def __init__(self, held: int, later: set[int]) -> None:
        self.held, self.later = held, later
        self.later_started = asyncio.Event()
        self.released_by_later: bool | None = None
        self.sent: list[int] = []

    async def send(self, message) -> None:
        if message.id in self.later:
            self.later_started.set()
        if message.id == self.held:
            try:
                await asyncio.wait_for(self.later_started.wait(), 10)
                self.released_by_later = True
            except TimeoutError:
                self.released_by_later = False
        self.sent.append(message.id)


async def test_drain_claims_the_next_batch_while_one_send_of_the_last_is_still_going(engine):
    ids = [put(engine, f"m{i}") for i in range(25)]
    sender = Holding(ids[0], set(ids[10:]))
    dispatcher = Dispatcher(engine, {"email": sender}, ManualClock(T0), batch=10)
    assert await dispatcher.drain() == 25
    assert sender.released_by_later is True  # the second batch went while the first one's send was held
    assert sorted(sender.sent) == ids and sender.sent.index(ids[0]) > sender.sent.index(ids[10])
    assert {stored(engine, i).status for i in ids} == {"sent"}


async def test_run_once_is_one_batch(engine):
    ids = [put(engine, f"m{i}") for i in range(15)]
    sender = Holding(-1, set())
    assert await Dispatcher(engine, {"email": sender}, ManualClock(T0), batch=10).run_once() == 10
    assert sorted(sender.sent) == ids[:10] and stored(engine, ids[10]).status == "pending"


class Preparing:
    """Records each prepared batch and each send; `fail` makes prepare raise."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.events: list[tuple[str, list[int]]] = []

    async def prepare(self, messages) -> None:
        self.events.append(("prepare", [m.id for m in messages]))
        if self.fail:
            raise RuntimeError("template store unreachable")

    async def send(self, message) -> None:
        self.events.append(("send", [message.id]))


async def test_each_claimed_batch_is_prepared_before_any_of_its_sends(engine):
    ids = [put(engine, f"m{i}") for i in range(25)]
    sender = Preparing()
    assert await Dispatcher(engine, {"email": sender}, ManualClock(T0), batch=10).drain() == 25
    prepared = [batch for kind, batch in sender.events if kind == "prepare"]
    assert prepared == [ids[:10], ids[10:20], ids[20:]]
    position = {kind + str(batch): n for n, (kind, batch) in enumerate(sender.events)}
    for batch in prepared:
        assert all(position["prepare" + str(batch)] < position["send" + str([i])] for i in batch)


async def test_a_failed_prepare_leaves_each_send_to_do_its_own(engine, caplog):
    ids = [put(engine, f"m{i}") for i in range(3)]
    sender = Preparing(fail=True)
    with caplog.at_level(logging.WARNING, logger="jcbot.services.dispatcher"):
        assert await Dispatcher(engine, {"email": sender}, ManualClock(T0)).drain() == 3
    assert sorted(batch[0] for kind, batch in sender.events if kind == "send") == ids
    assert {stored(engine, i).status for i in ids} == {"sent"}
    assert "preparing email messages failed: template store unreachable" in caplog.text


class OutcomesLost(Dispatcher):
    """A dispatcher whose database takes starts but fails every outcome (gone mid-pass)."""

    def _write_all(self, items):
        if any(kind == "record" for kind, _ in items):
            raise RuntimeError("database gone")
        return super()._write_all(items)


async def test_a_drain_whose_outcomes_cannot_be_recorded_claims_no_further_batch_and_loses_nothing(engine):
    ids = [put(engine, f"m{i}") for i in range(25)]
    sender = Holding(-1, set())
    dispatcher = OutcomesLost(engine, {"email": sender}, ManualClock(T0), batch=10)
    with pytest.raises(RuntimeError, match="database gone"):
        await dispatcher.drain()
    # The first batch was sent and stays 'sending' (claimed again when its lease lapses); no other was claimed.
    assert sorted(sender.sent) == ids[:10]
    assert [stored(engine, i).status for i in ids] == ["sending"] * 10 + ["pending"] * 15


class Gated:
    """Sends the first message at once; the rest of the first batch only once the next claim is queued."""

    def __init__(self, first: int, gated: set[int], claim_queued: asyncio.Event) -> None:
        self.first, self.gated, self.claim_queued = first, gated, claim_queued
        self.sent: list[int] = []

    async def send(self, message) -> None:
        if message.id in self.gated:
            await asyncio.wait_for(self.claim_queued.wait(), 10)
        self.sent.append(message.id)


async def test_a_drains_later_claim_is_written_with_the_outcomes_in_one_transaction(engine, monkeypatch):
    from jcbot.services import dispatcher as module

    ids = [put(engine, f"m{i}") for i in range(15)]
    claim_queued = asyncio.Event()

    class Watched(module.GroupCommit):
        async def submit(self, item):
            if item[0] == "claim" and not item[1]:
                claim_queued.set()  # a claim made while sends are going (not the pass's first)
            return await super().submit(item)

    groups: list[list[str]] = []

    class Counting(Dispatcher):
        def _write_all(self, items):
            groups.append(sorted(kind for kind, _ in items))
            return super()._write_all(items)

    monkeypatch.setattr(module, "GroupCommit", Watched)
    sender = Gated(ids[0], set(ids[1:10]), claim_queued)
    assert await Counting(engine, {"email": sender}, ManualClock(T0), batch=10).drain() == 15
    assert sorted(sender.sent) == ids and {stored(engine, i).status for i in ids} == {"sent"}
    # The pass's first claim alone; the second with the nine outcomes that came while it waited.
    assert groups[0] == ["claim"] and ["claim"] + ["record"] * 9 in groups
    assert sum(g.count("claim") for g in groups) == 2 and all(g.count("claim") <= 1 for g in groups)
