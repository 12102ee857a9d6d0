"""jcbot.store.outbox's batch forms (the dispatcher's group commits): the same outcomes as one row at a time.

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


@pytest.fixture(params=["returning", "read first"])
def engine(request, engine):
    """The store's engine, once as it is and once as on a database without UPDATE ... RETURNING (two statements)."""
    if request.param == "read first":
        request.getfixturevalue("monkeypatch").setattr(engine.dialect, "update_returning", False)
    return engine


def put(engine, key: str) -> int:
    with session_scope(engine) as session:
        return outbox.enqueue(session, now=T0, channel="email", kind="distribution", recipient=f"{key}@x.org",
                              dedupe_key=key, payload={"message": key}).id


def row(engine, message) -> OutboxMessage:
    with session_scope(engine) as session:
        return session.get(OutboxMessage, message)


def test_only_the_current_claims_of_the_worker_start_and_an_earlier_flight_is_kept(engine):
    mine, earlier, stale, theirs, pending = (put(engine, k) for k in ("mine", "earlier", "stale", "theirs", "pending"))
    with session_scope(engine) as session:
        outbox_claims.claim_due(session, T0, 3, worker="w1")  # mine, earlier, stale
        outbox_claims.claim_due(session, T0, 1, worker="w2")  # theirs
        assert outbox_claims.mark_in_flight(session, earlier, now=T0 - SECOND, attempt=1, worker="w1")
    with session_scope(engine) as session:
        started = outbox_claims.mark_in_flight_many(
            session, [(pending, 1), (theirs, 1), (stale, 2), (mine, 1), (earlier, 1)], now=T0, worker="w1")
    assert started == [False, False, False, True, True]
    assert row(engine, mine).in_flight_since == T0
    assert row(engine, earlier).in_flight_since == T0 - SECOND  # the earliest send of unknown fate
    assert [row(engine, m).in_flight_since for m in (stale, theirs, pending)] == [None, None, None]
    with session_scope(engine) as session:
        assert outbox_claims.mark_in_flight_many(session, [], now=T0, worker="w1") == []


def test_a_claim_of_no_named_worker_starts_only_for_no_named_worker(engine):
    nobody, named = put(engine, "nobody"), put(engine, "named")
    with session_scope(engine) as session:
        outbox_claims.claim_due(session, T0, 1)  # nobody (worker None)
        outbox_claims.claim_due(session, T0, 1, worker="w1")  # named
    with session_scope(engine) as session:
        assert outbox_claims.mark_in_flight_many(session, [(nobody, 1), (named, 1)], now=T0) == [True, False]
        assert outbox_claims.mark_in_flight_many(session, [(nobody, 1), (named, 1), (named, 2)], now=T0 + SECOND,
                                          worker="w1") == [False, True, False]
    assert (row(engine, nobody).in_flight_since, row(engine, named).in_flight_since) == (T0, T0 + SECOND)


def test_sent_in_one_go_settles_each_and_a_bounce_or_an_earlier_send_stays(engine):
    going, bounced, done = put(engine, "going"), put(engine, "bounced"), put(engine, "done")
    with session_scope(engine) as session:
        outbox_claims.claim_due(session, T0, 3, worker="w1")
        assert outbox_claims.mark_in_flight_many(session, [(going, 1), (bounced, 1), (done, 1)], now=T0, worker="w1") \
            == [True, True, True]
        outbox.mark_bounced(session, bounced, now=T0, reason="bounced after sending: 5.1.1")
        outbox.mark_sent(session, done, now=T0 + SECOND)
    with session_scope(engine) as session:
        outbox.mark_sent_many(session, [going, bounced, done, going], now=T0 + 2 * SECOND)
    g, b, d = row(engine, going), row(engine, bounced), row(engine, done)
    assert (g.status, g.sent_at, g.claimed_by, g.in_flight_since) == ("sent", T0 + 2 * SECOND, None, None)
    assert (b.status, b.last_error, b.sent_at, b.claimed_by, b.in_flight_since) == \
        ("bounced", "bounced after sending: 5.1.1", T0 + 2 * SECOND, None, None)
    assert (d.status, d.sent_at) == ("sent", T0 + SECOND)


def test_sent_naming_a_message_that_is_not_there_changes_nothing(engine):
    going = put(engine, "going")
    with session_scope(engine) as session:
        outbox_claims.claim_due(session, T0, 1, worker="w1")
    with pytest.raises(LookupError, match="no outbox message 999999"):
        with session_scope(engine) as session:
            outbox.mark_sent_many(session, [going, 999999], now=T0)
    assert row(engine, going).status == "sending"


def test_a_claim_its_starts_and_its_sends_on_a_core_connection_as_in_a_session(engine):
    # The dispatcher's group commit runs them on a connection of its own (no ORM session).
    first, second, third = (put(engine, k) for k in ("first", "second", "third"))
    with engine.begin() as connection:
        claimed = outbox_claims.claim_due(connection, T0, 2, channels=("email",), worker="w1")
        assert [(m.id, m.attempt, m.worker) for m in claimed] == [(first, 1, "w1"), (second, 1, "w1")]
        assert outbox_claims.mark_in_flight_many(connection, [(first, 1), (second, 1), (third, 1)],
                                                 now=T0 + SECOND, worker="w1") == [True, True, False]
        outbox.mark_sent_many(connection, [first], now=T0 + 2 * SECOND)
    assert (row(engine, first).status, row(engine, first).sent_at) == ("sent", T0 + 2 * SECOND)
    assert (row(engine, second).status, row(engine, second).in_flight_since) == ("sending", T0 + SECOND)
    assert (row(engine, third).status, row(engine, third).in_flight_since) == ("pending", None)
