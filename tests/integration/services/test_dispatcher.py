"""jcbot.services.dispatcher: outcomes, retries, crashes, several dispatchers, the .eml sender."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from jcbot.channels.email.files import FileMailSender
from jcbot.clock import ManualClock
from jcbot.services.dispatcher import Dispatcher, PermanentFailure, TemporaryFailure
from jcbot.store import outbox
from jcbot.store.db import init_db, make_engine, session_scope
from jcbot.store.outbox import OutboxMessage

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MAIL = "From: jc@example.org\r\nTo: alice@example.org\r\nSubject: Proposal 7\r\n\r\nPlease assert.\r\n"


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def clock():
    return ManualClock(T0)


class Recorder:
    """A sender that records what it was given and fails as scripted (None = accept)."""

    def __init__(self, *script: BaseException | None) -> None:
        self.script = list(script)
        self.calls: list[tuple[int, int]] = []
        self.delivered: list[int] = []

    async def send(self, message) -> None:
        self.calls.append((message.id, message.attempt))
        outcome = self.script.pop(0) if self.script else None
        if outcome is not None:
            raise outcome
        self.delivered.append(message.id)


def put(engine, key: str, channel: str = "email", now=T0) -> int:
    payload = outbox.email_payload(MAIL, mail_from="jc@example.org", rcpt_to=["alice@example.org"])
    with session_scope(engine) as session:
        return outbox.enqueue(session, now=now, channel=channel, kind="distribution",
                              recipient="Alice <alice@example.org>", dedupe_key=key, payload=payload).id


def stored(engine, message_id) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, message_id)


async def test_two_temporary_failures_then_sent_once(engine, clock):
    message = put(engine, "m")
    sender = Recorder(TemporaryFailure("421 busy"), TemporaryFailure("421 busy"), None)
    dispatcher = Dispatcher(engine, {"email": sender}, clock)
    assert await dispatcher.run_once() == 1
    assert stored(engine, message).next_attempt_at == T0 + timedelta(seconds=30)
    assert await dispatcher.run_once() == 0  # not due yet
    clock.advance(timedelta(seconds=30))
    assert await dispatcher.run_once() == 1
    assert stored(engine, message).next_attempt_at == clock.now() + timedelta(minutes=1)
    clock.advance(timedelta(minutes=1))
    assert await dispatcher.run_once() == 1
    clock.advance(timedelta(hours=2))
    assert await dispatcher.run_once() == 0
    assert sender.calls == [(message, 1), (message, 2), (message, 3)]
    assert sender.delivered == [message]
    row = stored(engine, message)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 3, T0 + timedelta(seconds=90))


async def test_permanent_failure_is_recorded_with_its_reason(engine, clock):
    message = put(engine, "m")
    sender = Recorder(PermanentFailure("550 5.1.1 no such user"))
    dispatcher = Dispatcher(engine, {"email": sender}, clock)
    await dispatcher.run_once()
    clock.advance(timedelta(days=1))
    assert await dispatcher.run_once() == 0
    row = stored(engine, message)
    assert (row.status, row.last_error) == ("failed", "550 5.1.1 no such user")
    with session_scope(engine) as session:
        assert [m.id for m in outbox.problems(session)] == [message]


async def test_an_unexpected_exception_counts_as_temporary(engine, clock):
    message = put(engine, "m")
    await Dispatcher(engine, {"email": Recorder(ConnectionResetError("peer went away"))}, clock).run_once()
    row = stored(engine, message)
    assert (row.status, row.last_error) == ("pending", "ConnectionResetError: peer went away")
    assert row.next_attempt_at == T0 + timedelta(seconds=30)


async def test_retry_after_in_seconds_is_honoured(engine, clock):
    message = put(engine, "m")
    await Dispatcher(engine, {"email": Recorder(TemporaryFailure("ratelimited", retry_after=5))}, clock).run_once()
    assert stored(engine, message).next_attempt_at == T0 + timedelta(seconds=5)


class Crash(BaseException):
    """Stands for the process dying mid-send (not an Exception: nothing handles it)."""


async def test_a_crash_between_claim_and_result_is_retried_after_the_lease(engine, clock):
    message = put(engine, "m")
    with pytest.raises(Crash):
        await Dispatcher(engine, {"email": Recorder(Crash())}, clock).run_once()
    assert stored(engine, message).status == "sending"
    survivor = Recorder()
    dispatcher = Dispatcher(engine, {"email": survivor}, clock)
    assert await dispatcher.run_once() == 0  # the dead worker's lease still holds
    clock.advance(outbox.LEASE)
    assert await dispatcher.run_once() == 1
    assert survivor.calls == [(message, 2)]
    assert stored(engine, message).status == "sent"


async def test_sending_happens_after_the_claim_is_committed(engine, clock):
    message = put(engine, "m")
    seen = []

    class Peeking:
        async def send(self, msg) -> None:
            # Another connection sees the claim: no claim transaction is open during the send
            # (SQLite would block here, PostgreSQL would still show 'pending').
            seen.append(await asyncio.to_thread(lambda: stored(engine, msg.id).status))

    await Dispatcher(engine, {"email": Peeking()}, clock).run_once()
    assert seen == ["sending"]
    assert stored(engine, message).status == "sent"


async def test_channels_without_a_sender_wait(engine, clock):
    chat = put(engine, "chat", channel="slack")
    mail = put(engine, "mail")
    sender = Recorder()
    assert await Dispatcher(engine, {"email": sender}, clock).run_once() == 1
    assert sender.delivered == [mail]
    assert stored(engine, chat).status == "pending"


async def test_two_dispatchers_send_each_message_once(engine, clock):
    ids = {put(engine, f"m{i}") for i in range(30)}
    shared = Recorder()
    first = Dispatcher(engine, {"email": shared}, clock, batch=4)
    second = Dispatcher(engine, {"email": shared}, clock, batch=4)
    while sum(await asyncio.gather(first.run_once(), second.run_once())):
        pass
    assert Counter(shared.delivered) == Counter({i: 1 for i in ids})


async def test_run_forever_drains_the_outbox_and_stops_when_told(engine, clock):
    ids = [put(engine, f"m{i}") for i in range(5)]
    sender, stop = Recorder(), asyncio.Event()
    task = asyncio.create_task(Dispatcher(engine, {"email": sender}, clock, batch=2).run_forever(stop, 0.01))
    for _ in range(500):
        if len(sender.delivered) == 5:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert sorted(sender.delivered) == ids


async def test_file_mail_sender_writes_one_eml_per_message(engine, clock, tmp_path):
    message = put(engine, "m")
    folder = tmp_path / "mail"
    await Dispatcher(engine, {"email": FileMailSender(folder)}, clock).run_once()
    written = folder / f"{message}-alice@example.org.eml"
    assert [p.name for p in folder.iterdir()] == [written.name]  # no temp file left behind
    # The message as enqueued, with the Date header added at hand-over, under the
    # Return-Path (its envelope sender) a delivering mail server would add.
    return_path, date, rest = written.read_bytes().decode().split("\r\n", 2)
    assert return_path == "Return-Path: <jc@example.org>" and date.startswith("Date: ") and rest == MAIL
    assert stored(engine, message).status == "sent"


def test_file_mail_sender_names_files_by_id_and_bare_address(tmp_path):
    odd = outbox.Outgoing(id=12, channel="email", kind="k", recipient='"B. / O\'Neil" <b/o@x.org>',
                          dedupe_key="k", payload={}, attempt=1)
    assert FileMailSender(tmp_path).path_for(odd) == tmp_path / "12-b_o@x.org.eml"


def test_file_mail_sender_defaults_to_storage_mail(monkeypatch, tmp_path):
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path / "store"))
    assert FileMailSender().directory == tmp_path / "store" / "mail"


async def test_file_mail_sender_refuses_a_payload_without_a_message(tmp_path):
    bad = outbox.Outgoing(id=1, channel="email", kind="k", recipient="a@x", dedupe_key="k",
                          payload={"method": "chat.postMessage"}, attempt=1)
    with pytest.raises(PermanentFailure, match="'message' text"):
        await FileMailSender(tmp_path).send(bad)
    assert list(tmp_path.iterdir()) == []
