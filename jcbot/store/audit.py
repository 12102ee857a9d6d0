"""The tamper-evident audit record: every change appends an event to a hash chain."""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from sqlalchemy import Column, Integer, Text, select, text
from sqlmodel import Field, Session, SQLModel

from jcbot.store.db import UTCDateTime, canonical_json, iso_utc, require_aware
from jcbot.store.memo import memo

GENESIS_HASH = "0" * 64
# Serialises appends on PostgreSQL; any constant, the same in every process.
_CHAIN_LOCK_KEY = 0x6A63626F74_01
_COLUMNS = ("id", "at", "actor", "action", "committee_id", "subject", "data", "prev_hash", "hash")


class AuditEvent(SQLModel, table=True):
    """One recorded change; `id` is its position in the chain (1, 2, 3...)."""

    __tablename__ = "audit_event"

    # Assigned by append() under the chain lock, not by a database sequence: a sequence
    # skips numbers on rollback, and a gap must mean a deleted row.
    id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=200)
    action: str = Field(max_length=100, index=True)
    # No foreign key: the record must not be blocked or cascaded by domain tables.
    committee_id: int | None = Field(default=None, index=True)
    subject: str = Field(max_length=200, index=True)
    # Canonical JSON text; the hash covers these exact characters.
    data: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)

    def data_value(self) -> Any:
        """The event's data, parsed."""
        return json.loads(self.data)


@dataclass(frozen=True)
class Appended:
    """An event as `append` wrote it: the row's values (a plain record, not attached to any session)."""

    id: int
    at: datetime
    actor: str
    action: str
    committee_id: int | None
    subject: str
    data: str
    prev_hash: str
    hash: str

    def data_value(self) -> Any:
        """The event's data, parsed."""
        return json.loads(self.data)


@dataclass(frozen=True)
class VerifyResult:
    """What verify() found: ok, how many events, the last hash, the first break."""

    ok: bool
    count: int
    head_hash: str
    first_broken: tuple[int, str] | None


def event_hash(
    *, id: int, at: datetime, actor: str, action: str, committee_id: int | None,
    subject: str, data: str, prev_hash: str,
) -> str:
    """The SHA-256 (hex) of an event's canonical serialisation, previous hash included."""
    # A JSON array, not a joined string: no separator inside a field can shift the
    # boundary between two fields and produce the same bytes for different events.
    body = canonical_json([id, iso_utc(at), actor, action, committee_id, subject, data, prev_hash])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append(
    session: Session, *, at: datetime, actor: str, action: str, subject: str,
    data: Any, committee_id: int | None = None,
) -> Appended:
    """Chain a new event onto the head, in the caller's transaction; returns what was written.

    Prepared Core statements (the chain's lock and head, then the event): every change
    appends here, so the ORM's unit of work is not in the way. A transaction's later
    events chain onto the head it wrote, under the lock it already holds.
    """
    require_aware(at)
    conn = session.connection()
    remembered = memo(session)
    head = remembered.get(_HEAD_KEY)
    if head is None:  # the first event of this transaction: take the chain's lock, read its head
        _lock_chain(session)
        found = conn.execute(_HEAD).first()
        head = (found.id, found.hash) if found else (0, GENESIS_HASH)
    seq, prev_hash = head[0] + 1, head[1]
    values = dict(id=seq, at=at.astimezone(UTC), actor=actor, action=action, committee_id=committee_id,
                  subject=subject, data=canonical_json(data), prev_hash=prev_hash)
    values["hash"] = event_hash(**values)
    conn.execute(_INSERT, values)
    # The head this transaction now holds (and holds the lock of): its next event chains
    # onto it without reading it back (forgotten at any rollback and at the end: store.memo).
    remembered[_HEAD_KEY] = (seq, values["hash"])
    return Appended(**values)


_HEAD_KEY = "audit.head"


_PG_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_TABLE = AuditEvent.__table__
_HEAD = select(_TABLE.c.id, _TABLE.c.hash).order_by(_TABLE.c.id.desc()).limit(1)  # type: ignore[attr-defined]
_INSERT = _TABLE.insert()  # type: ignore[attr-defined]


def _lock_chain(session: Session) -> None:
    # PostgreSQL: two transactions must not both read the same head and fork the chain;
    # the lock is held until commit. SQLite: make_engine's BEGIN IMMEDIATE already
    # gives this transaction the only write lock.
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(_PG_LOCK, {"k": _CHAIN_LOCK_KEY})


def _fields(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _COLUMNS if name != "hash"}


def verify(session: Session) -> VerifyResult:
    """Recompute every hash and link; name the first event that does not hold."""
    prev_id, prev_hash, count, broken = 0, GENESIS_HASH, 0, None
    rows = session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).yield_per(1000)
    for row in rows:
        count += 1
        if broken is None:
            broken = _check(row, prev_id, prev_hash)
        prev_id, prev_hash = row.id, row.hash
    return VerifyResult(ok=broken is None, count=count, head_hash=prev_hash, first_broken=broken)


def _check(row: Any, prev_id: int, prev_hash: str) -> tuple[int, str] | None:
    if row.id != prev_id + 1:
        missing = prev_id + 1
        jump = f"jumps from event {prev_id} to {row.id}" if prev_id else f"starts at event {row.id}"
        return missing, f"event {missing} is missing: the chain {jump} (deleted row?)"
    if event_hash(**_fields(row)) != row.hash:
        return row.id, "content does not match its hash (edited after it was recorded)"
    if row.prev_hash != prev_hash:
        before = f"event {prev_id}" if prev_id else "the chain's start"
        return row.id, f"prev_hash does not match the hash of {before} (an earlier event was rewritten)"
    return None


def export(session: Session, fmt: Literal["csv", "json"], out: TextIO) -> int:
    """Write every event, oldest first, as CSV or a JSON array; return how many."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"unknown export format {fmt!r}: use 'csv' or 'json'")
    rows = session.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).yield_per(1000)
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(_COLUMNS)
    else:
        out.write("[")
    count = 0
    for row in rows:
        record = {name: getattr(row, name) for name in _COLUMNS}
        record["at"] = iso_utc(row.at)
        if writer:
            # `data` stays the exact hashed text, so the export can be re-verified.
            writer.writerow([record[name] if record[name] is not None else "" for name in _COLUMNS])
        else:
            out.write(("," if count else "") + "\n" + json.dumps(record, ensure_ascii=False))
        count += 1
    if not writer:
        out.write("\n]\n" if count else "]\n")
    return count
