"""jcbot.store.outbox: dedupe, claims and leases, backoff, outcomes, the problems list."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from jcbot.store import outbox, outbox_claims
from jcbot.store.db import session_scope
from jcbot.store.outbox import OutboxMessage

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def put(engine, key: str, *, now=T0, channel="email", payload=None) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue(
            session, now=now, channel=channel, kind="distribution", recipient=f"{key}@example.org",
            dedupe_key=key, payload=payload or {"message": key}, committee_id=1, proposal_id=7,
        ).id


def claim(engine, now, limit=10, **kw):
    with session_scope(engine) as session:
        return outbox_claims.claim_due(session, now, limit, **kw)


def row(engine, message_id) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, message_id)


def test_enqueuing_the_same_message_twice_records_it_once(engine):
    first = put(engine, "dist:7:alice", payload={"v": 1})
    again = put(engine, "dist:7:alice", payload={"v": 2})
    assert again == first
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1
    stored = row(engine, first)
    assert stored.payload == {"v": 1}  # the first one wins
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("pending", 0, T0)


@pytest.mark.parametrize("keys", [["one"], ["one", "two"]])
def test_enqueue_many_counts_only_the_new_rows_one_or_several(engine, keys):
    def enqueue(*extra: str) -> int:
        with session_scope(engine) as session:
            return outbox.enqueue_many(session, [dict(now=T0, channel="email", kind="distribution", recipient=f"{k}@x.org",
                                                      dedupe_key=k, payload={"k": k}) for k in (*keys, *extra)])
    assert enqueue() == len(keys)
    assert enqueue() == 0  # each key already queued
    assert enqueue("three") == 1 and enqueue() == 0
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == len(keys) + 1


def test_concurrent_enqueues_of_one_key_record_it_once(engine):
    errors, barrier = [], threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            put(engine, "same")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_unknown_channel_is_refused(engine):
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        put(engine, "k", channel="fax")


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    assert [outbox.backoff(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert outbox.backoff(500) == timedelta(hours=1)


def test_claim_takes_only_due_messages_and_leases_them(engine):
    due = put(engine, "due")
    put(engine, "later", now=T0 + timedelta(minutes=1))
    claimed = claim(engine, T0)
    assert [(m.id, m.attempt, m.payload) for m in claimed] == [(due, 1, {"message": "due"})]
    stored = row(engine, due)
    assert (stored.status, stored.attempts, stored.next_attempt_at) == ("sending", 1, T0 + outbox.LEASE)
    # Held by the lease: nobody else takes it meanwhile.
    assert due not in [m.id for m in claim(engine, T0 + outbox.LEASE - timedelta(seconds=1))]


def test_claim_respects_the_limit_and_the_order(engine):
    ids = [put(engine, f"m{i}", now=T0 + timedelta(seconds=10 - i)) for i in range(5)]
    assert [m.id for m in claim(engine, T0 + timedelta(minutes=1), limit=3)] == ids[::-1][:3]


def test_claim_can_be_limited_to_channels(engine):
    put(engine, "mail")
    slack = put(engine, "chat", channel="slack", payload=outbox.slack_payload("chat.postMessage", channel="C1"))
    assert [m.id for m in claim(engine, T0, channels=("slack",))] == [slack]


def test_a_crashed_send_is_claimed_again_after_the_lease(engine):
    message = put(engine, "m")
    claim(engine, T0, worker="w1")
    with session_scope(engine) as session:
        assert outbox_claims.mark_in_flight(session, message, now=T0, attempt=1, worker="w1")
    # ...and the worker dies mid-send: no outcome is ever recorded
    assert claim(engine, T0 + outbox.LEASE - timedelta(seconds=1), worker="w2") == []
    (again,) = claim(engine, T0 + outbox.LEASE, worker="w2")
    assert (again.id, again.attempt, again.maybe_sent_at) == (message, 2, T0)
    assert "did not report back" in row(engine, message).last_error


def test_retries_follow_the_backoff_schedule(engine):
    message = put(engine, "m")
    now = T0
    for attempt, wait in [(1, 30), (2, 60), (3, 120)]:
        (claimed,) = claim(engine, now)
        assert claimed.attempt == attempt
        with session_scope(engine) as session:
            at = outbox.mark_retry(session, message, now=now, error="421 try later", attempt=attempt)
        assert at == now + timedelta(seconds=wait)
        assert claim(engine, at - timedelta(seconds=1)) == []
        now = at
    stored = row(engine, message)
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 3, "421 try later")


def test_retry_after_from_the_channel_wins_over_backoff(engine):
    message = put(engine, "m")
    claim(engine, T0)
    with session_scope(engine) as session:
        at = outbox.mark_retry(session, message, now=T0, error="rate limited", retry_after=timedelta(seconds=7))
    assert at == T0 + timedelta(seconds=7)


def test_an_outcome_from_a_superseded_attempt_is_ignored(engine):
    message = put(engine, "m")
    claim(engine, T0)
    claim(engine, T0 + outbox.LEASE)  # the lease expired; attempt 2 is under way
    with session_scope(engine) as session:
        assert outbox.mark_retry(session, message, now=T0, error="late", attempt=1) is None
        assert outbox.mark_failed(session, message, now=T0, reason="late", attempt=1) is False
    assert (row(engine, message).status, row(engine, message).attempts) == ("sending", 2)


def test_sent_is_final(engine):
    message = put(engine, "m")
    claim(engine, T0)
    with session_scope(engine) as session:
        outbox.mark_sent(session, message, now=T0 + timedelta(seconds=3))
        assert outbox.mark_retry(session, message, now=T0, error="x") is None
    stored = row(engine, message)
    assert (stored.status, stored.sent_at) == ("sent", T0 + timedelta(seconds=3))
    assert claim(engine, T0 + timedelta(days=1)) == []


def test_a_bounce_back_before_the_send_is_recorded_marks_it_bounced_and_the_send_keeps_it(engine):
    # A relay on the same machine reports an unknown local user within milliseconds: the
    # report can be read while the dispatcher has not yet recorded the message as sent.
    message, idle = put(engine, "m"), put(engine, "idle")
    claim(engine, T0)
    with session_scope(engine) as session:
        assert outbox_claims.mark_in_flight(session, message, now=T0, attempt=1)
        assert outbox.mark_bounced(session, message, now=T0, reason="bounced after sending: 5.1.1") == "sending"
        # Claimed but its hand-over never started: the relay cannot have accepted it.
        assert outbox.mark_bounced(session, idle, now=T0, reason="forged?") == "sending"
        outbox.mark_sent(session, message, now=T0 + timedelta(seconds=1))
    stored = row(engine, message)
    assert (stored.status, stored.last_error, stored.sent_at) == ("bounced", "bounced after sending: 5.1.1",
                                                                  T0 + timedelta(seconds=1))
    assert (stored.claimed_by, stored.in_flight_since) == (None, None)
    assert (row(engine, idle).status, row(engine, idle).last_error) == ("sending", None)
    # Its lease lapsed, the idle one is taken again; the bounced one is never sent again.
    assert [m.id for m in claim(engine, T0 + timedelta(days=1))] == [idle]


def test_permanent_failure_keeps_the_reason_and_stops(engine):
    message = put(engine, "m")
    claim(engine, T0)
    with session_scope(engine) as session:
        assert outbox.mark_failed(session, message, now=T0, reason="550 no such user", attempt=1)
    assert (row(engine, message).status, row(engine, message).last_error) == ("failed", "550 no such user")
    assert claim(engine, T0 + timedelta(days=1)) == []


def test_problems_lists_failed_and_retrying_messages_only(engine):
    failed, retrying, sent, _fresh = (put(engine, k) for k in ("failed", "retrying", "sent", "fresh"))
    claim(engine, T0, limit=3)
    with session_scope(engine) as session:
        outbox.mark_failed(session, failed, now=T0, reason="550")
        outbox.mark_retry(session, retrying, now=T0, error="421")
        outbox.mark_sent(session, sent, now=T0)
    with session_scope(engine) as session:
        listed = {m.id: (m.status, m.last_error) for m in outbox.problems(session)}
    assert listed == {failed: ("failed", "550"), retrying: ("pending", "421")}


def test_a_failed_message_can_be_requeued(engine):
    message = put(engine, "m")
    claim(engine, T0)
    with session_scope(engine) as session:
        outbox.mark_failed(session, message, now=T0, reason="550")
        outbox.requeue(session, message, now=T0 + timedelta(hours=1))
        with pytest.raises(ValueError, match="not failed"):
            outbox.requeue(session, message, now=T0)
    assert [m.id for m in claim(engine, T0 + timedelta(hours=1))] == [message]


def test_email_payload_carries_the_message_and_its_envelope():
    payload = outbox.email_payload("Subject: x\r\n\r\nhi\r\n", mail_from="jc@x.org", rcpt_to=("a@y.org",))
    assert payload == {"message": "Subject: x\r\n\r\nhi\r\n", "mail_from": "jc@x.org", "rcpt_to": ["a@y.org"]}


@pytest.mark.postgres
def test_concurrent_claims_on_postgresql_skip_each_others_rows(pg_engine):
    # PostgreSQL only: SQLite serialises whole transactions, so claims never overlap.
    engine = pg_engine
    ids = {put(engine, f"m{i}") for i in range(6)}
    with session_scope(engine) as first:
        mine = outbox_claims.claim_due(first, T0, 4)  # not committed yet: rows still locked
        theirs = claim(engine, T0, limit=10)
    assert len(mine) == 4 and len(theirs) == 2
    assert {m.id for m in mine} | {m.id for m in theirs} == ids
