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



def commits(engine) -> list[int]:
    """A list that grows by one at each commit on `engine` (SQLAlchemy's commit event)."""
    from sqlalchemy import event

    seen: list[int] = []
    event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


class Counting(Dispatcher):
    """Notes the kinds of items in each group commit."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups: list[list[str]] = []

    def _write_all(self, items):
        self.groups.append(sorted(kind for kind, _ in items))
        return super()._write_all(items)


async def test_a_drains_claims_are_items_of_its_group_commit_not_transactions_of_their_own(engine):
    ids = [put(engine, f"m{i}") for i in range(25)]
    sender = Holding(-1, set())
    dispatcher = Counting(engine, {"email": sender}, ManualClock(T0), batch=10)
    await asyncio.to_thread(dispatcher.take_back)
    seen = commits(engine)
    assert await dispatcher.drain() == 25
    transactions = len(seen)
    assert sorted(sender.sent) == ids and {stored(engine, i).status for i in ids} == {"sent"}
    # Three claims (10, 10, 5), one per group at most, the first alone; every commit a group's.
    groups = dispatcher.groups
    assert groups[0] == ["claim"]
    assert sum(g.count("claim") for g in groups) == 3 and all(g.count("claim") <= 1 for g in groups)
    assert transactions == len(groups)


def test_outcomes_and_a_claim_submitted_together_are_one_transaction(engine):
    ids = [put(engine, f"m{i}") for i in range(4)]
    dispatcher = Dispatcher(engine, {"email": Holding(-1, set())}, ManualClock(T0), batch=2)
    first = dispatcher._write_all([("claim", None)])[0]
    assert [m.id for m in first] == ids[:2]
    assert dispatcher._write_all([("start", m) for m in first]) == [True, True]
    seen = commits(engine)
    done = dispatcher._write_all([("record", (m, "sent", None, None, False)) for m in first] + [("claim", None)])
    assert len(seen) == 1 and done[:2] == [None, None] and [m.id for m in done[2]] == ids[2:]
    assert [stored(engine, i).status for i in ids] == ["sent", "sent", "sending", "sending"]
