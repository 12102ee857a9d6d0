"""jcbot.store.audit: the hash chain, its verification after tampering, concurrent appends, export."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from jcbot.store import audit
from jcbot.store.db import session_scope

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def record(engine, n: int, start: int = 0) -> list[audit.Appended]:
    events = []
    with session_scope(engine) as session:
        for i in range(start, start + n):
            events.append(audit.append(
                session, at=T0 + timedelta(minutes=i), actor="secretariat", action="proposal.distributed",
                subject=f"proposal:{i}", data={"item": i, "note": "Улаанбаатар"}, committee_id=1,
            ))
    return events


def verify(engine) -> audit.VerifyResult:
    with session_scope(engine) as session:
        return audit.verify(session)


def test_events_chain_from_64_zeros_and_verify(engine):
    events = record(engine, 3)
    assert [e.id for e in events] == [1, 2, 3]
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    result = verify(engine)
    assert result == audit.VerifyResult(ok=True, count=3, head_hash=events[2].hash, first_broken=None)


def test_empty_record_verifies(engine):
    assert verify(engine) == audit.VerifyResult(ok=True, count=0, head_hash="0" * 64, first_broken=None)


def test_hash_follows_the_published_recipe(engine):
    # Pinned so that anyone can re-verify an export without jcbot's code.
    (event,) = record(engine, 1)
    body = json.dumps(
        [1, "2026-03-01T09:00:00.000000Z", "secretariat", "proposal.distributed", 1, "proposal:0",
         '{"item":0,"note":"Улаанбаатар"}', "0" * 64],
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    assert event.data == '{"item":0,"note":"Улаанбаатар"}'
    assert event.hash == hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_instants_in_other_zones_are_recorded_in_utc(engine):
    ulaanbaatar = timezone(timedelta(hours=8))
    with session_scope(engine) as session:
        event = audit.append(session, at=T0.astimezone(ulaanbaatar), actor="a", action="x", subject="s", data={})
    with session_scope(engine) as session:
        stored = session.get(audit.AuditEvent, event.id)
    assert stored.at == T0 and stored.at.tzinfo is UTC
    assert verify(engine).ok


def test_naive_instant_is_refused(engine):
    with pytest.raises(ValueError, match="naive"):
        with session_scope(engine) as session:
            audit.append(session, at=datetime(2026, 3, 1), actor="a", action="x", subject="s", data={})
    assert verify(engine).count == 0


@pytest.mark.parametrize("column, value", [
    ("data", '{"item":1,"note":"forged"}'),
    ("actor", "someone else"),
    ("committee_id", 2),
    ("at", datetime(2020, 1, 1, tzinfo=UTC)),
])
def test_an_edited_event_is_named(engine, column, value):
    record(engine, 4)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE audit_event SET {column} = :v WHERE id = 2"), {"v": value})
    result = verify(engine)
    assert not result.ok and result.count == 4
    assert result.first_broken[0] == 2
    assert "does not match its hash" in result.first_broken[1]


def test_a_deleted_event_is_named(engine):
    record(engine, 4)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 3"))
    result = verify(engine)
    assert (result.ok, result.count) == (False, 3)
    assert result.first_broken == (3, "event 3 is missing: the chain jumps from event 2 to 4 (deleted row?)")


def test_a_deleted_first_event_is_named(engine):
    record(engine, 2)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 1"))
    assert verify(engine).first_broken == (1, "event 1 is missing: the chain starts at event 2 (deleted row?)")


def test_a_rewritten_event_with_a_recomputed_hash_breaks_the_next_link(engine):
    record(engine, 3)
    with session_scope(engine) as session:
        event = session.get(audit.AuditEvent, 2)
        fields = {k: getattr(event, k) for k in ("id", "at", "actor", "action", "committee_id", "subject", "prev_hash")}
        forged = audit.event_hash(**fields, data='{"forged":true}')
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET data = :d, hash = :h WHERE id = 2"),
                     {"d": '{"forged":true}', "h": forged})
    result = verify(engine)
    assert result.first_broken[0] == 3
    assert "prev_hash does not match the hash of event 2" in result.first_broken[1]


def test_concurrent_appends_keep_one_chain(engine):
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(15):
                with session_scope(engine) as session:
                    audit.append(session, at=T0, actor=f"w{worker}", action="x", subject=f"s:{i}", data={"i": i})
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = verify(engine)
    assert (result.ok, result.count, result.first_broken) == (True, 60, None)


def test_export_csv_keeps_the_hashed_text(engine):
    events = record(engine, 2)
    out = io.StringIO()
    with session_scope(engine) as session:
        assert audit.export(session, "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[1]["data"] == events[1].data and rows[1]["hash"] == events[1].hash
    assert rows[0]["at"] == "2026-03-01T09:00:00.000000Z"


def test_export_json_is_an_array_of_events(engine):
    events = record(engine, 2)
    out = io.StringIO()
    with session_scope(engine) as session:
        audit.export(session, "json", out)
    exported = json.loads(out.getvalue())
    assert [e["hash"] for e in exported] == [e.hash for e in events]
    assert exported[0]["committee_id"] == 1 and json.loads(exported[0]["data"])["item"] == 0


def test_export_of_nothing_is_valid_json_and_bad_format_is_refused(engine):
    out = io.StringIO()
    with session_scope(engine) as session:
        audit.export(session, "json", out)
        with pytest.raises(ValueError, match="use 'csv' or 'json'"):
            audit.export(session, "xml", io.StringIO())
    assert json.loads(out.getvalue()) == []


def _event(session, i: int) -> audit.Appended:
    return audit.append(session, at=T0 + timedelta(minutes=i), actor="secretariat", action="note",
                        subject=f"proposal:{i}", data={"i": i}, committee_id=1)


def test_a_transaction_chains_its_later_events_without_reading_the_head_again(engine):
    from sqlalchemy import event as sa_event

    heads = []

    def count(conn, cursor, statement, *_):
        if statement.lstrip().startswith("SELECT audit_event.id, audit_event.hash"):
            heads.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        record(engine, 3)
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(heads) == 1
    assert verify(engine).ok and verify(engine).count == 3


def test_an_event_in_a_savepoint_rolled_back_leaves_no_gap(engine):
    """The head a transaction remembers is forgotten when a savepoint (or the transaction) rolls back."""
    with session_scope(engine) as session:
        first = _event(session, 1)
        with pytest.raises(RuntimeError):
            with session.begin_nested():
                _event(session, 2)
                raise RuntimeError("this input fails alone")
        third = _event(session, 3)
        with session.begin_nested():  # a savepoint released: its event stays the head
            fourth = _event(session, 4)
        fifth = _event(session, 5)
    assert (third.id, third.prev_hash) == (first.id + 1, first.hash)
    assert (fourth.prev_hash, fifth.prev_hash, fifth.id) == (third.hash, fourth.hash, 4)
    assert verify(engine).ok and verify(engine).count == 4


def test_a_session_reads_the_head_again_in_its_next_transaction(engine):
    """Another writer may append between two transactions of one session: its head is read anew."""
    from sqlmodel import Session

    with Session(engine) as mine:
        _event(mine, 1)
        mine.commit()
        record(engine, 2, start=10)  # someone else: events 2 and 3
        later = _event(mine, 20)
        mine.commit()
        failed = None
        try:
            _event(mine, 21)
            raise RuntimeError("rolled back")
        except RuntimeError:
            mine.rollback()
            failed = True
        after = _event(mine, 22)
        mine.commit()
    assert failed and later.id == 4 and after.id == 5 and after.prev_hash == later.hash
    assert verify(engine).ok and verify(engine).count == 5
