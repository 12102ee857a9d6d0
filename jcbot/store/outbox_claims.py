"""The dispatcher's claims on the outbox: claimed under a worker's lease, marked in flight, renewed, released.

What a crash leaves behind is read here: a claim that never started a send is simply
pending again; one whose send was in flight keeps in_flight_since, so the next attempt
knows it may have arrived. The outcomes (sent, retry, failed, bounced) are in outbox.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update
from sqlmodel import Session

from jcbot.store.db import UTCDateTime, require_aware
from jcbot.store.outbox import LEASE, OutboxMessage, Outgoing, connection_of

# Built once (SQLAlchemy then compiles each once).
_t = OutboxMessage.__table__
_ids, _at = bindparam("ids", expanding=True), bindparam("at", type_=UTCDateTime())
_CLAIMS = select(_t.c.id, _t.c.status, _t.c.attempts, _t.c.claimed_by).where(_t.c.id.in_(_ids))
_IN_FLIGHT = update(_t).where(_t.c.id.in_(_ids), _t.c.in_flight_since.is_(None)).values(in_flight_since=_at)
# A claim: the due rows (as Outgoing needs them), then one UPDATE for all of them.
_DUE = (select(_t.c.id, _t.c.channel, _t.c.kind, _t.c.recipient, _t.c.dedupe_key, _t.c.payload, _t.c.committee_id,
               _t.c.proposal_id, _t.c.status, _t.c.attempts, _t.c.claimed_by, _t.c.in_flight_since)
        .where(_t.c.status.in_(("pending", "sending")), _t.c.next_attempt_at <= _at)
        .order_by(_t.c.next_attempt_at, _t.c.id).limit(bindparam("limit")))
_CLAIM = (update(_t).where(_t.c.id.in_(_ids))
          .values(status="sending", attempts=_t.c.attempts + 1, claimed_by=bindparam("worker"),
                  next_attempt_at=bindparam("until", type_=UTCDateTime())))
_NOTE = update(_t).where(_t.c.id == bindparam("b_id")).values(last_error=bindparam("b_error"))
# Where UPDATE ... RETURNING is there (PostgreSQL, SQLite 3.35+): a batch's starts are one statement.
_START = (update(_t).where(_t.c.id.in_(_ids), _t.c.status == "sending", _t.c.attempts == bindparam("attempt"),
                           _t.c.claimed_by.is_not_distinct_from(bindparam("worker", type_=_t.c.claimed_by.type)))
          .values(in_flight_since=func.coalesce(_t.c.in_flight_since, _at)).returning(_t.c.id))


def claim_due(
    session: Session | Connection, now: datetime, limit: int, *, channels: tuple[str, ...] | None = None,
    lease: timedelta = LEASE, worker: str | None = None,
) -> list[Outgoing]:
    """Mark up to `limit` due messages 'sending' under `worker`'s lease and return them.

    Two Core statements (the due rows, one UPDATE of them all), and one more when a lapsed
    claim had a send in flight: the dispatcher claims a batch every few sends.
    """
    connection = connection_of(session)
    rows = connection.execute(_due_statement(channels is not None, connection.dialect.name == "postgresql"),
                              {"at": require_aware(now), "limit": limit, "channels": list(channels or ())}).all()
    if not rows:
        return []
    connection.execute(_CLAIM, {"ids": [r.id for r in rows], "worker": worker, "until": now + lease})
    # A lapsed claim that never started a send is not an error: nothing went out.
    notes = [{"b_id": r.id, "b_error": f"attempt {r.attempts} by {r.claimed_by or 'a worker'} was in flight and did "
                                       "not report back within the lease (crash?); it may have arrived"}
             for r in rows if r.status == "sending" and r.in_flight_since is not None]
    if notes:
        connection.execute(_NOTE, notes)
    return [Outgoing(id=r.id, channel=r.channel, kind=r.kind, recipient=r.recipient, dedupe_key=r.dedupe_key,
                     payload=r.payload, attempt=r.attempts + 1, committee_id=r.committee_id,
                     proposal_id=r.proposal_id, worker=worker, maybe_sent_at=r.in_flight_since)
            for r in rows]


@lru_cache(maxsize=None)
def _due_statement(by_channel: bool, postgresql: bool) -> Any:
    due = _DUE.where(_t.c.channel.in_(bindparam("channels", expanding=True))) if by_channel else _DUE
    # PostgreSQL: several dispatchers share the work; each takes rows no other one holds.
    return due.with_for_update(skip_locked=True) if postgresql else due


def mark_in_flight(session: Session, message_id: int, *, now: datetime, attempt: int,
                   worker: str | None = None) -> bool:
    """Record that the send of a claimed message starts now; False if the claim was lost."""
    row = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None or row.status != "sending" or row.attempts != attempt or row.claimed_by != worker:
        # Released at a stop, or taken over after the lease lapsed: someone else sends it.
        return False
    # Kept when set: it dates the earliest send whose fate is still unknown.
    row.in_flight_since = row.in_flight_since or require_aware(now)
    session.flush()
    return True


def mark_in_flight_many(session: Session | Connection, messages: list[tuple[int, int]], *, now: datetime,
                        worker: str | None = None) -> list[bool]:
    """mark_in_flight for several claimed messages, given as (id, attempt), in one or two statements; one bool each."""
    if not messages:
        return []
    connection = connection_of(session)
    if connection.dialect.update_returning:
        # One UPDATE per attempt number (nearly always one): the rows still claimed by this
        # worker for that attempt, locked and marked, come back.
        started: set[tuple[int, int]] = set()
        for attempt in sorted({a for _, a in messages}):
            ids = sorted({i for i, a in messages if a == attempt})
            done = connection.execute(_START, {"ids": ids, "attempt": attempt, "worker": worker, "at": require_aware(now)})
            started.update((i, attempt) for i in done.scalars())
        return [(i, attempt) in started for i, attempt in messages]
    query = _CLAIMS.with_for_update() if connection.dialect.name == "postgresql" else _CLAIMS
    rows = {r.id: r for r in connection.execute(query, {"ids": sorted({i for i, _ in messages})})}
    ok = [(r := rows.get(i)) is not None and r.status == "sending" and r.attempts == attempt and r.claimed_by == worker
          for i, attempt in messages]
    started = sorted({i for (i, _), good in zip(messages, ok) if good})
    if started:
        # Kept when set: it dates the earliest send whose fate is still unknown.
        connection.execute(_IN_FLIGHT, {"ids": started, "at": require_aware(now)})
    return ok


def renew(session: Session, message_ids: list[int] | set[int], *, now: datetime, worker: str | None,
          lease: timedelta = LEASE) -> int:
    """Extend `worker`'s lease on these claimed messages to now + lease (the heartbeat)."""
    if not message_ids:
        return 0
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(sorted(message_ids)), OutboxMessage.status == "sending",
               OutboxMessage.claimed_by == worker)
        .values(next_attempt_at=require_aware(now) + lease)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def release(session: Session, *, now: datetime, worker: str, message_ids: list[int] | None = None) -> int:
    """Give `worker`'s claims back (pending at `now`); returns how many.

    At start (a restarted process takes back what its previous life held) and at a
    graceful stop. A claim whose send never started is pending as if never claimed; one
    that was in flight keeps its in_flight_since, so the next attempt knows it may have
    arrived.
    """
    query = (select(OutboxMessage)
             .where(OutboxMessage.status == "sending", OutboxMessage.claimed_by == worker)
             .order_by(OutboxMessage.id)
             .execution_options(populate_existing=True))
    if message_ids is not None:
        query = query.where(OutboxMessage.id.in_(message_ids))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = list(session.scalars(query))
    for row in rows:
        if row.in_flight_since is None:
            row.attempts = max(row.attempts - 1, 0)  # that attempt never happened
        else:
            row.last_error = (f"attempt {row.attempts} was in flight when {worker} stopped; "
                              "it may have arrived")
        row.status, row.claimed_by, row.next_attempt_at = "pending", None, require_aware(now)
    session.flush()
    return len(rows)
