"""jcbot.store.outbox after a crash: claims by worker, the heartbeat, in flight, release and take-back.

Run on SQLite and on PostgreSQL (the `engine` fixture follows `db_url`).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jcbot.store import outbox, outbox_claims
from jcbot.store.db import session_scope
from jcbot.store.outbox import OutboxMessage

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def put(engine, key: str) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue(session, now=T0, channel="email", kind="distribution", recipient=f"{key}@x.org",
                              dedupe_key=key, payload={"message": key}).id


def claim(engine, now, worker, limit=10):
    with session_scope(engine) as session:
        return outbox_claims.claim_due(session, now, limit, worker=worker)


def in_flight(engine, message, worker, attempt=1, now=T0) -> bool:
    with session_scope(engine) as session:
        return outbox_claims.mark_in_flight(session, message, now=now, attempt=attempt, worker=worker)


def release(engine, worker, now=T0, ids=None) -> int:
    with session_scope(engine) as session:
        return outbox_claims.release(session, now=now, worker=worker, message_ids=ids)


def row(engine, message) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, message)


def test_a_claim_names_its_worker_and_lasts_a_short_lease(engine):
    message = put(engine, "m")
    (claimed,) = claim(engine, T0, "host-a:8080")
    stored = row(engine, message)
    assert (stored.status, stored.claimed_by, stored.in_flight_since) == ("sending", "host-a:8080", None)
    assert stored.next_attempt_at == T0 + outbox.LEASE <= T0 + timedelta(seconds=60)
    assert (claimed.worker, claimed.maybe_sent_at) == ("host-a:8080", None)


def test_the_heartbeat_renews_only_the_workers_own_claims(engine):
    mine, theirs = put(engine, "mine"), put(engine, "theirs")
    claim(engine, T0, "a", limit=1)
    claim(engine, T0, "b", limit=1)
    later = T0 + timedelta(seconds=20)
    with session_scope(engine) as session:
        assert outbox_claims.renew(session, {mine, theirs}, now=later, worker="a") == 1
    assert row(engine, mine).next_attempt_at == later + outbox.LEASE
    assert row(engine, theirs).next_attempt_at == T0 + outbox.LEASE
    # Renewed, the claim holds past the first lease; b's lapsed one is taken over.
    taken = claim(engine, T0 + outbox.LEASE, "c")
    assert [m.id for m in taken] == [theirs]


def test_the_heartbeat_does_not_revive_a_settled_message(engine):
    message = put(engine, "m")
    claim(engine, T0, "a")
    with session_scope(engine) as session:
        outbox.mark_sent(session, message, now=T0)
        assert outbox_claims.renew(session, [message], now=T0 + SECOND, worker="a") == 0
    assert row(engine, message).status == "sent"


def test_only_the_claims_holder_starts_a_send(engine):
    message = put(engine, "m")
    claim(engine, T0, "a")
    assert not in_flight(engine, message, "b")
    assert not in_flight(engine, message, "a", attempt=2)
    assert in_flight(engine, message, "a", now=T0 + SECOND)
    assert row(engine, message).in_flight_since == T0 + SECOND


def test_a_lapsed_claim_that_never_started_is_not_a_possible_duplicate(engine):
    message = put(engine, "m")
    claim(engine, T0, "dead")
    (again,) = claim(engine, T0 + outbox.LEASE, "alive")
    assert (again.maybe_sent_at, again.worker) == (None, "alive")
    stored = row(engine, message)
    assert (stored.claimed_by, stored.last_error) == ("alive", None)
    assert not in_flight(engine, message, "dead")  # the dead worker cannot start it any more
    with session_scope(engine) as session:
        assert outbox.problems(session) == []


def test_a_lapsed_claim_in_flight_is_flagged_as_possibly_sent(engine):
    message = put(engine, "m")
    claim(engine, T0, "dead")
    in_flight(engine, message, "dead", now=T0 + SECOND)
    (again,) = claim(engine, T0 + outbox.LEASE, "alive")
    assert (again.attempt, again.maybe_sent_at) == (2, T0 + SECOND)
    assert "may have arrived" in row(engine, message).last_error


def test_release_puts_unstarted_claims_back_at_once_as_if_never_claimed(engine):
    message = put(engine, "m")
    claim(engine, T0, "a")
    assert release(engine, "a", now=T0 + SECOND) == 1
    stored = row(engine, message)
    assert (stored.status, stored.claimed_by, stored.attempts, stored.last_error) == ("pending", None, 0, None)
    assert stored.next_attempt_at == T0 + SECOND
    (again,) = claim(engine, T0 + SECOND, "b")  # at once, not after the lease
    assert (again.attempt, again.maybe_sent_at) == (1, None)


def test_release_keeps_the_mark_of_a_send_that_was_in_flight(engine):
    message = put(engine, "m")
    claim(engine, T0, "a")
    in_flight(engine, message, "a")
    assert release(engine, "a", now=T0 + SECOND) == 1
    stored = row(engine, message)
    assert (stored.status, stored.attempts, stored.in_flight_since) == ("pending", 1, T0)
    assert "may have arrived" in stored.last_error
    (again,) = claim(engine, T0 + SECOND, "a")
    assert (again.attempt, again.maybe_sent_at) == (2, T0)
    with session_scope(engine) as session:
        outbox.mark_sent(session, message, now=T0 + 2 * SECOND)
    stored = row(engine, message)
    assert (stored.status, stored.claimed_by, stored.in_flight_since) == ("sent", None, None)


def test_take_back_touches_only_the_workers_own_claims(engine):
    mine = [put(engine, f"mine{i}") for i in range(3)]
    theirs = put(engine, "theirs")
    claim(engine, T0, "host:8080", limit=3)
    claim(engine, T0, "other:8080")
    assert release(engine, "host:8080") == 3
    assert {row(engine, m).status for m in mine} == {"pending"}
    assert (row(engine, theirs).status, row(engine, theirs).claimed_by) == ("sending", "other:8080")


def test_release_can_be_limited_to_some_messages(engine):
    first, second = put(engine, "first"), put(engine, "second")
    claim(engine, T0, "a")
    assert release(engine, "a", ids=[second]) == 1
    assert (row(engine, first).status, row(engine, second).status) == ("sending", "pending")


@pytest.mark.parametrize("outcome", ["retry", "failed"])
def test_an_outcome_clears_the_claim_and_the_flight(engine, outcome):
    message = put(engine, "m")
    claim(engine, T0, "a")
    in_flight(engine, message, "a")
    with session_scope(engine) as session:
        if outcome == "retry":
            outbox.mark_retry(session, message, now=T0, error="421", attempt=1)
        else:
            outbox.mark_failed(session, message, now=T0, reason="550", attempt=1)
    stored = row(engine, message)
    assert (stored.claimed_by, stored.in_flight_since) == (None, None)
    # A retry after a known failure is a plain attempt, not a possible duplicate.
    if outcome == "retry":
        (again,) = claim(engine, T0 + timedelta(hours=1), "a")
        assert again.maybe_sent_at is None
