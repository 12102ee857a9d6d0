"""The transactional outbox: messages written with the change that causes them, sent later."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import CheckConstraint, Column, Connection, Index, Text, bindparam, func, or_, select, update
from sqlmodel import Field, Session, SQLModel

from jcbot.store.db import JSONText, UTCDateTime, require_aware, upsert_insert

CHANNELS = ("email", "slack", "http")
# bounced: the relay accepted it, and a delivery status notification later said it failed.
STATUSES = ("pending", "sending", "sent", "failed", "bounced")
# How long a claim lasts without a heartbeat: the dispatcher renews it every third of
# this while its pass runs, so a worker that dies (kill -9, a lost machine) leaves its
# messages 'sending' for at most this long before another worker takes them over.
LEASE = timedelta(seconds=30)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=1)
_FINAL = ("sent", "failed", "bounced")


class OutboxMessage(SQLModel, table=True):
    """A message to send on a channel, with its delivery state."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        CheckConstraint("channel IN ('email', 'slack', 'http')", name="channel"),
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'bounced')", name="status"),
        # What outbox_claims.claim_due scans.
        Index("ix_outbox_message_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    channel: str = Field(max_length=16)
    kind: str = Field(max_length=64)
    recipient: str = Field(max_length=320)
    dedupe_key: str = Field(max_length=255, unique=True)
    payload: dict = Field(sa_column=Column(JSONText(), nullable=False))
    committee_id: int | None = Field(default=None, index=True)
    proposal_id: int | None = Field(default=None, index=True)
    status: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Who holds the claim of a 'sending' message (JCBOT_WORKER_ID): a restarted process
    # takes back its own claims at once instead of waiting for the lease.
    claimed_by: str | None = Field(default=None, max_length=255)
    # Set just before a send starts and cleared when its outcome is recorded: a message
    # whose attempt was interrupted keeps it, and only such a message may have arrived
    # already (a claimed but never started message is simply pending again).
    in_flight_since: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


# The dispatcher's batch statements, built once (SQLAlchemy then compiles each once); the
# claims' are in outbox_claims.
_t = OutboxMessage.__table__
_ids, _at = bindparam("ids", expanding=True), bindparam("at", type_=UTCDateTime())
_STATUSES = select(_t.c.id, _t.c.status).where(_t.c.id.in_(_ids))
_SENT = (update(_t).where(_t.c.id.in_(_ids), _t.c.status.not_in(("sent", "bounced")))
         .values(status="sent", sent_at=_at, claimed_by=None, in_flight_since=None))
_SENT_AFTER_BOUNCE = (update(_t).where(_t.c.id.in_(_ids), _t.c.status == "bounced")
                      .values(sent_at=func.coalesce(_t.c.sent_at, _at), claimed_by=None, in_flight_since=None))
# Where UPDATE ... RETURNING is there (PostgreSQL, SQLite 3.35+): a sent is one statement.
_SENT_RETURNING = _SENT.returning(_t.c.id)


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, detached from the database, as handed to a sender."""

    id: int
    channel: str
    kind: str
    recipient: str
    dedupe_key: str
    payload: dict
    attempt: int
    committee_id: int | None = None
    proposal_id: int | None = None
    worker: str | None = None
    # When an earlier attempt of this message started and never reported back (the
    # worker died mid-send): it may have arrived, so a sender that can check does so.
    maybe_sent_at: datetime | None = None


def email_payload(message: EmailMessage | str, *, mail_from: str, rcpt_to: list[str]) -> dict:
    """An email outbox payload: the RFC 822 text and its envelope."""
    return {"message": str(message), "mail_from": mail_from, "rcpt_to": list(rcpt_to)}


def slack_payload(method: str, **arguments: Any) -> dict:
    """A Slack outbox payload: a Web API method and its arguments."""
    return {"method": method, "arguments": arguments}


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt number `attempt`: 30 s, 1 min, 2 min... capped at 1 h."""
    # Deterministic (no jitter) so tests and operators can predict the next attempt.
    return min(FIRST_RETRY * 2 ** min(max(attempt, 1) - 1, 16), MAX_RETRY)


def _row(*, now: datetime, channel: str, kind: str, recipient: str, dedupe_key: str, payload: dict,
         committee_id: int | None = None, proposal_id: int | None = None) -> dict[str, Any]:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: expected one of {', '.join(CHANNELS)}")
    return dict(
        created_at=require_aware(now), channel=channel, kind=kind, recipient=recipient,
        dedupe_key=dedupe_key, payload=payload, committee_id=committee_id,
        proposal_id=proposal_id, status="pending", attempts=0, next_attempt_at=now,
    )


def _insert(session: Session, rows: list[dict[str, Any]], returning: bool = False):
    return session.connection().execute(_insert_statement(upsert_insert(session), returning), rows)


@lru_cache(maxsize=None)
def _insert_statement(insert: Any, returning: bool) -> Any:
    # ON CONFLICT DO NOTHING rather than select-then-insert: two transactions
    # enqueuing the same key at once must not fail, and the first one wins. One Core
    # statement on the table executed with the rows as parameters (SQLAlchemy batches
    # them into multi-row VALUES), built once per dialect: every change that notifies runs it.
    statement = insert(OutboxMessage.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])
    return statement.returning(OutboxMessage.__table__.c.id) if returning else statement  # type: ignore[attr-defined]


def enqueue_many(session: Session, messages: list[dict[str, Any]]) -> int:
    """Record messages to send (keyword sets as `enqueue` takes), each once per dedupe_key, in one statement.

    Returns how many were new. Nothing is read back: the transaction that causes a
    notice only writes it (a key already queued is simply skipped).
    """
    if not messages:
        return 0
    # RETURNING the ids of the new rows: rowcount of a multi-row insert is not reliable across drivers.
    return len(_insert(session, [_row(**m) for m in messages], returning=True).all())


def enqueue(
    session: Session, *, now: datetime, channel: str, kind: str, recipient: str,
    dedupe_key: str, payload: dict, committee_id: int | None = None,
    proposal_id: int | None = None,
) -> OutboxMessage:
    """Record a message to send, once per dedupe_key, in the caller's transaction, and read it back."""
    _insert(session, [_row(now=now, channel=channel, kind=kind, recipient=recipient, dedupe_key=dedupe_key,
                           payload=payload, committee_id=committee_id, proposal_id=proposal_id)])
    query = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
    return session.scalars(query.execution_options(populate_existing=True)).one()


def exists(session: Session, dedupe_key: str) -> bool:
    """Whether a message with this dedupe key was already enqueued (any state)."""
    return session.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)).first() is not None


def _current(session: Session, message_id: int, attempt: int | None) -> OutboxMessage | None:
    # An outcome from a worker whose lease was taken over (attempt no longer current)
    # must not overwrite the newer attempt's state.
    row = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise LookupError(f"no outbox message {message_id}")
    if row.status in _FINAL or (attempt is not None and row.attempts != attempt):
        return None
    return row


def _settled(row: OutboxMessage, unresolved: bool = False) -> None:
    # The attempt's outcome is known: no claim, and nothing in flight unless an earlier,
    # interrupted send could not be checked (`unresolved`): the next attempt checks again.
    row.claimed_by = None
    if not unresolved:
        row.in_flight_since = None


def mark_sent(session: Session, message_id: int, *, now: datetime) -> None:
    """Record that the message went out."""
    row = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise LookupError(f"no outbox message {message_id}")
    # Delivered is delivered, even if reported by a worker whose lease had expired. A message
    # whose bounce came back before its send was recorded (a local MTA answers in
    # milliseconds: mark_bounced) stays bounced.
    if row.status == "bounced":
        row.sent_at = row.sent_at or require_aware(now)
        _settled(row)
    elif row.status != "sent":
        row.status, row.sent_at = "sent", require_aware(now)
        _settled(row)
    session.flush()


def connection_of(db: Session | Connection) -> Connection:
    """The Core connection of a session's transaction, or the connection given (the dispatcher's group commit)."""
    return db if isinstance(db, Connection) else db.connection()


def mark_sent_many(session: Session | Connection, message_ids: list[int], *, now: datetime) -> None:
    """mark_sent for several messages, in one statement (two or three if one was sent, bounced or is not there).

    LookupError if one is not there.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return
    connection = connection_of(session)
    if connection.dialect.update_returning:
        # Those not sent nor bounced (nearly all) in one statement; the others are read below.
        done = set(connection.execute(_SENT_RETURNING, {"ids": ids, "at": require_aware(now)}).scalars())
        ids = [i for i in ids if i not in done]
        if not ids:
            return
    # PostgreSQL: locked, so a bounce read meanwhile waits, then sees the message sent.
    query = _STATUSES.with_for_update() if connection.dialect.name == "postgresql" else _STATUSES
    status = {i: st for i, st in connection.execute(query, {"ids": ids})}
    if len(status) != len(ids):
        raise LookupError(f"no outbox message {min(set(ids) - set(status))}")
    # As mark_sent: a bounce recorded before the send keeps the message bounced; sent stays as it was.
    going = [i for i in ids if status[i] not in ("sent", "bounced")]
    if going:
        connection.execute(_SENT, {"ids": going, "at": require_aware(now)})
    bounced = [i for i in ids if status[i] == "bounced"]
    if bounced:
        connection.execute(_SENT_AFTER_BOUNCE, {"ids": bounced, "at": require_aware(now)})


def mark_retry(
    session: Session, message_id: int, *, now: datetime, error: str,
    retry_after: timedelta | None = None, attempt: int | None = None, unresolved: bool = False,
) -> datetime | None:
    """Schedule another attempt after a temporary failure; return when (None if stale)."""
    row = _current(session, message_id, attempt)
    if row is None:
        return None
    delay = retry_after if retry_after is not None else backoff(row.attempts)
    row.status, row.last_error = "pending", error
    row.next_attempt_at = require_aware(now) + delay
    _settled(row, unresolved)
    session.flush()
    return row.next_attempt_at


def mark_failed(
    session: Session, message_id: int, *, now: datetime, reason: str, attempt: int | None = None,
) -> bool:
    """Give up on the message (a permanent refusal), keeping the reason; False if stale."""
    row = _current(session, message_id, attempt)
    if row is None:
        return False
    row.status, row.last_error, row.next_attempt_at = "failed", reason, require_aware(now)
    _settled(row)
    session.flush()
    return True


def mark_bounced(session: Session, message_id: int, *, now: datetime, reason: str) -> str | None:
    """Record that a sent message bounced later (a DSN); returns its status before, or None if there is no such message.

    Only a message the relay accepted changes: one 'sent', or one still 'sending' whose
    hand-over had started (the report of a relay on the same machine can come back before
    the send is recorded; mark_sent then keeps it bounced). A bounce about one still queued
    or already failed says nothing new, and a second bounce keeps the first diagnostic.
    """
    row = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None:
        return None
    before = row.status
    if before == "sent" or (before == "sending" and row.in_flight_since is not None):
        row.status, row.last_error, row.next_attempt_at = "bounced", reason, require_aware(now)
        session.flush()
    return before


def requeue(session: Session, message_id: int, *, now: datetime) -> None:
    """Send a failed or bounced message again at `now` (after someone fixed the cause)."""
    row = session.get(OutboxMessage, message_id, with_for_update=True, populate_existing=True)
    if row is None or row.status not in ("failed", "bounced"):
        raise ValueError(f"outbox message {message_id} is not failed or bounced; only those are requeued")
    row.status, row.next_attempt_at = "pending", require_aware(now)
    session.flush()


def problems(session: Session) -> list[OutboxMessage]:
    """Messages that failed for good, bounced after sending, or are being retried, for the co-chairs' view."""
    query = (
        select(OutboxMessage)
        .where(or_(
            OutboxMessage.status.in_(("failed", "bounced")),
            OutboxMessage.status.in_(("pending", "sending")) & OutboxMessage.last_error.is_not(None),
        ))
        .order_by(OutboxMessage.status, OutboxMessage.next_attempt_at, OutboxMessage.id)
    )
    return list(session.scalars(query))
