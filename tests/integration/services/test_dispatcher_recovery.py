"""The dispatcher after a crash and at a stop: take-back, heartbeat, in flight, release, Slack's metadata check."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from jcbot.channels.slack.sender import EVENT_TYPE, SlackSender
from jcbot.clock import ManualClock, SystemClock
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import load_settings
from jcbot.store import outbox, outbox_claims
from jcbot.store.db import init_db, make_engine, session_scope
from jcbot.store.outbox import OutboxMessage
from support.fake_slack import _dm_id

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
MAIL = "From: jc@example.org\r\nTo: a@example.org\r\nSubject: P7\r\n\r\nPlease assert.\r\n"


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


class Crash(BaseException):
    """The process dying (kill -9): nothing after it runs, nothing records an outcome."""


class Recorder:
    """Records what it sends; the process dies right after sending a message of `crash_after`."""

    def __init__(self, crash_after: set[int] = frozenset(), delay: float = 0.0) -> None:
        self.crash_after = set(crash_after)
        self.delay = delay
        self.sent: list[tuple[int, int, datetime | None]] = []
        self.started = asyncio.Event()
        self.crashed = asyncio.Event()

    async def send(self, message) -> None:
        self.started.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        self.sent.append((message.id, message.attempt, message.maybe_sent_at))
        if message.id in self.crash_after:
            self.crash_after.discard(message.id)
            self.crashed.set()
            await asyncio.Event().wait()  # dead: never returns; killed() cancels the whole pass


async def killed(dispatcher: Dispatcher, recorder: Recorder) -> None:
    """Run a pass until the recorder's crash, then stop everything at once, as kill -9 does."""
    task = asyncio.create_task(dispatcher.run_once())
    await asyncio.wait_for(recorder.crashed.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def put(engine, key: str, channel: str = "email", payload: dict | None = None, now=T0) -> int:
    payload = payload or outbox.email_payload(MAIL, mail_from="jc@example.org", rcpt_to=["a@example.org"])
    with session_scope(engine) as session:
        return outbox.enqueue(session, now=now, channel=channel, kind="distribution", recipient="a@example.org",
                              dedupe_key=key, payload=payload).id


def rows(engine) -> dict[int, OutboxMessage]:
    with session_scope(engine) as session:
        return {r.id: r for r in session.scalars(select(OutboxMessage))}


async def test_a_restarted_worker_takes_back_its_claims_at_once(engine):
    clock = ManualClock(T0)
    ids = [put(engine, f"m{i}") for i in range(4)]
    with session_scope(engine) as session:  # the previous life claimed them and died before sending
        outbox_claims.claim_due(session, T0, 10, worker="host:8080")
    assert await Dispatcher(engine, {"email": Recorder()}, clock, worker="other:8080").run_once() == 0
    again = Recorder()
    assert await Dispatcher(engine, {"email": again}, clock, worker="host:8080").run_once() == 4
    # No lease waited for; never started, so neither a possible duplicate nor a spent attempt.
    assert sorted(again.sent) == [(i, 1, None) for i in ids]
    assert {r.status for r in rows(engine).values()} == {"sent"}


async def test_only_the_send_in_flight_at_the_crash_is_flagged_as_a_possible_repeat(engine):
    clock = ManualClock(T0)
    ids = [put(engine, f"m{i}") for i in range(3)]
    dying = Recorder(crash_after={ids[0]})
    await killed(Dispatcher(engine, {"email": dying}, clock, worker="w", concurrency=1), dying)
    assert dying.sent == [(ids[0], 1, None)]  # the first went out; the crash came before its mark
    stored = rows(engine)
    assert stored[ids[0]].in_flight_since == T0 and stored[ids[0]].status == "sending"
    assert [stored[i].in_flight_since for i in ids[1:]] == [None, None]
    survivor = Recorder()
    assert await Dispatcher(engine, {"email": survivor}, clock, worker="w").run_once() == 3
    assert sorted(survivor.sent) == [(ids[0], 2, T0), (ids[1], 1, None), (ids[2], 1, None)]
    assert all(r.status == "sent" and r.claimed_by is None for r in rows(engine).values())


async def test_the_heartbeat_keeps_a_slow_send_from_being_taken_over(engine):
    message = put(engine, "slow", now=datetime.now(UTC) - timedelta(seconds=1))
    lease = timedelta(seconds=0.6)
    slow = Recorder(delay=1.5)
    other = Recorder()
    first = Dispatcher(engine, {"email": slow}, SystemClock(), lease=lease, worker="a")
    second = Dispatcher(engine, {"email": other}, SystemClock(), lease=lease, worker="b")
    task = asyncio.create_task(first.run_once())
    await asyncio.wait_for(slow.started.wait(), 5)
    taken = 0
    while not task.done():  # well past the 0.6 s lease while the send runs
        taken += await second.run_once()
        await asyncio.sleep(0.1)
    assert await task == 1
    assert (taken, other.sent, [m for m, *_ in slow.sent]) == (0, [], [message])


async def test_a_dead_workers_claims_are_taken_over_after_the_short_lease(engine):
    clock = ManualClock(T0)
    message = put(engine, "m")
    dying = Recorder(crash_after={message})
    await killed(Dispatcher(engine, {"email": dying}, clock, worker="dead"), dying)
    survivor = Recorder()
    other = Dispatcher(engine, {"email": survivor}, clock, worker="alive")
    assert await other.run_once() == 0
    clock.advance(outbox.LEASE)  # seconds, not minutes
    assert await other.run_once() == 1
    assert survivor.sent == [(message, 2, T0)]


async def test_stop_lets_running_sends_finish_and_release_returns_the_rest(engine):
    ids = [put(engine, f"m{i}") for i in range(5)]
    slow = Recorder(delay=0.3)
    dispatcher = Dispatcher(engine, {"email": slow}, ManualClock(T0), worker="w", concurrency=2)
    task = asyncio.create_task(dispatcher.run_once())
    await asyncio.wait_for(slow.started.wait(), 5)
    dispatcher.stop()
    await asyncio.wait_for(task, 5)
    assert dispatcher.release() == 3
    stored = rows(engine)
    sent = [i for i in ids if stored[i].status == "sent"]
    assert sent == [m for m, *_ in slow.sent] and len(sent) == 2
    # Nothing left claimed; what was never started is pending at once, attempts untouched.
    assert {(stored[i].status, stored[i].claimed_by, stored[i].attempts) for i in ids if i not in sent} == {
        ("pending", None, 0)}
    assert await dispatcher.run_once() == 0  # stopped: takes no new work


async def test_drain_passes_back_to_back_while_batches_come_full(engine):
    ids = [put(engine, f"m{i}") for i in range(25)]
    sender = Recorder()
    assert await Dispatcher(engine, {"email": sender}, ManualClock(T0), batch=10).drain() == 25
    assert sorted(m for m, *_ in sender.sent) == ids


# -- Slack: a post that landed before the crash is found by its metadata, not posted again --

def slack_settings(fake_slack, tmp_path):
    return load_settings({"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SLACK_BOT_TOKEN": "xoxb-test",
                          "JCBOT_SLACK_API_URL": fake_slack.base_url}, dotenv=None)


class DiesAfterPosting(SlackSender):
    """A Slack sender whose process dies right after Slack took the post."""

    async def send(self, message) -> None:
        await super().send(message)
        raise Crash()


def put_post(engine, key, channel) -> int:
    return put(engine, key, channel="slack", payload=outbox.slack_payload(
        "chat.postMessage", channel=channel, text=f"notice {key}", unfurl_links=False))


async def test_a_slack_post_that_landed_before_the_crash_is_not_posted_again(engine, fake_slack, tmp_path):
    settings, clock = slack_settings(fake_slack, tmp_path), ManualClock(T0)
    put_post(engine, "slack:dist:7:tanaka", "U0TANAKA"), put_post(engine, "slack:adopt:7", "C0ANNOUNCE")
    with pytest.raises(Crash):
        await Dispatcher(engine, {"slack": DiesAfterPosting(settings)}, clock, worker="w").run_once()
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert all(r.status == "sending" for r in rows(engine).values())
    restarted = Dispatcher(engine, {"slack": SlackSender(settings)}, clock, worker="w")
    assert await restarted.run_once() == 2
    assert len(fake_slack.calls("chat.postMessage")) == 2  # none posted twice
    history = fake_slack.calls("conversations.history")
    # The DM is read under its D... id, which conversations.open gives for the user id.
    assert {c.body["channel"] for c in history} == {_dm_id(["U0TANAKA"]), "C0ANNOUNCE"}
    assert all(str(c.body.get("include_all_metadata")) in ("1", "true", "True") for c in history)
    assert {r.status for r in rows(engine).values()} == {"sent"}
    posted = fake_slack.history("U0TANAKA") + fake_slack.history("C0ANNOUNCE")
    assert [m["metadata"] for m in posted] == [
        {"event_type": EVENT_TYPE, "event_payload": {"key": "slack:dist:7:tanaka"}},
        {"event_type": EVENT_TYPE, "event_payload": {"key": "slack:adopt:7"}}]


async def test_a_slack_post_lost_with_the_crash_is_posted_once_after_the_check(engine, fake_slack, tmp_path):
    settings, clock = slack_settings(fake_slack, tmp_path), ManualClock(T0)
    message = put_post(engine, "slack:dist:7:bat", "U0BAT")
    put_post(engine, "slack:other", "U0BAT")  # another notice in the same DM is not mistaken for it

    class DiesBeforePosting(SlackSender):
        async def send(self, m) -> None:
            if m.id == message:
                raise Crash()
            await super().send(m)

    with pytest.raises(Crash):
        await Dispatcher(engine, {"slack": DiesBeforePosting(settings)}, clock, worker="w").run_once()
    assert [c.body["metadata"]["event_payload"]["key"] for c in fake_slack.calls("chat.postMessage")] == ["slack:other"]
    assert await Dispatcher(engine, {"slack": SlackSender(settings)}, clock, worker="w").run_once() == 1
    keys = [c.body["metadata"]["event_payload"]["key"] for c in fake_slack.calls("chat.postMessage")]
    assert keys == ["slack:other", "slack:dist:7:bat"]
    assert len(fake_slack.calls("conversations.history")) == 1  # checked only for the interrupted one
    assert {r.status for r in rows(engine).values()} == {"sent"}


async def test_a_slack_history_that_cannot_be_read_for_now_retries_later(engine, fake_slack, tmp_path):
    settings, clock = slack_settings(fake_slack, tmp_path), ManualClock(T0)
    message = put_post(engine, "slack:dist:7:sato", "C0ANNOUNCE")
    with pytest.raises(Crash):
        await Dispatcher(engine, {"slack": DiesAfterPosting(settings)}, clock, worker="w").run_once()
    fake_slack.fail_next("conversations.history", "internal_error")
    assert await Dispatcher(engine, {"slack": SlackSender(settings)}, clock, worker="w").run_once() == 1
    stored = rows(engine)[message]
    assert stored.status == "pending" and "internal_error" in stored.last_error
    assert stored.in_flight_since == T0  # still unresolved: the next attempt checks again
    clock.advance(timedelta(hours=1))
    assert await Dispatcher(engine, {"slack": SlackSender(settings)}, clock, worker="w").run_once() == 1
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert len(fake_slack.calls("conversations.history")) == 2
    assert rows(engine)[message].status == "sent"


# -- a stop whose grace runs out: the cut-short send keeps its mark, nothing stays claimed --

async def test_a_stop_past_its_grace_cancels_quietly_and_gives_every_claim_back(tmp_path, caplog):
    from jcbot.app import build_context
    from jcbot.scheduler import Scheduler

    settings = load_settings({"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SWEEP_INTERVAL": "3600",
                              "JCBOT_DISPATCH_INTERVAL": "3600"}, dotenv=None)
    ctx = build_context(settings, SystemClock())
    try:
        ids = [put(ctx.engine, f"m{i}", now=datetime.now(UTC)) for i in range(3)]
        stuck = Recorder(delay=30)  # an SMTP server that never answers in time
        dispatcher = Dispatcher(ctx.engine, {"email": stuck}, ctx.clock, worker="w", concurrency=1)
        scheduler = Scheduler(ctx, dispatcher)
        scheduler.start(lead=False)
        await asyncio.wait_for(stuck.started.wait(), 10)
        began = asyncio.get_running_loop().time()
        await scheduler.shutdown(grace=0.5)
        assert asyncio.get_running_loop().time() - began < 5
        stored = rows(ctx.engine)
        assert {(r.status, r.claimed_by) for r in stored.values()} == {("pending", None)}
        in_flight = [i for i in ids if stored[i].in_flight_since is not None]
        assert len(in_flight) == 1 and "may have arrived" in stored[in_flight[0]].last_error
        assert [i for i in ids if stored[i].attempts == 0] == [i for i in ids if i not in in_flight]
        assert "outcome=cancelled_at_stop" in caplog.text
        assert not [r for r in caplog.records if r.exc_info]  # no traceback logged
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
    finally:
        ctx.engine.dispose()
