"""jcbot.store.db: URLs, engine settings, transactions, the instant and JSON column types."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text, update
from sqlalchemy.exc import StatementError

from jcbot.store import outbox
from jcbot.store.db import (
    read_scope,
    JSONText, UTCDateTime, canonical_json, database_url, init_db, make_engine, normalize_url, session_scope,
)

T0 = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
scratch = MetaData()
# A table of its own metadata, so it never shows up in the migration comparison.
instants = Table(
    "scratch_instant", scratch,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime()),
    Column("doc", JSONText()),
)
counter = Table("scratch_counter", scratch, Column("id", Integer, primary_key=True), Column("n", Integer))


@pytest.fixture
def scratch_engine(engine):
    scratch.create_all(engine)
    return engine


def test_database_url_defaults_to_a_sqlite_file_in_the_storage_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("JCBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path / "data"))
    url = database_url()
    assert url == f"sqlite:///{(tmp_path / 'data' / 'jcbot.sqlite').resolve()}"
    assert (tmp_path / "data").is_dir()


def test_database_url_from_the_environment_wins(monkeypatch):
    monkeypatch.setenv("JCBOT_DATABASE_URL", "postgresql://u@db.example/jc")
    assert database_url() == "postgresql://u@db.example/jc"


@pytest.mark.parametrize("given", ["postgresql://u@h/db", "postgres://u@h/db"])
def test_plain_postgresql_urls_use_psycopg3(given):
    assert normalize_url(given) == "postgresql+psycopg://u@h/db"
    assert make_engine(given).dialect.driver == "psycopg"


def test_other_urls_are_left_alone():
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/sub/dir/x.sqlite")  # parents are created
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_session_scope_commits_on_success_and_rolls_back_on_error(engine):
    with session_scope(engine) as session:
        outbox.enqueue(session, now=T0, channel="email", kind="k", recipient="a@x", dedupe_key="kept", payload={})
    with pytest.raises(RuntimeError):
        with session_scope(engine) as session:
            outbox.enqueue(session, now=T0, channel="email", kind="k", recipient="a@x", dedupe_key="lost", payload={})
            raise RuntimeError("boom")
    with session_scope(engine) as session:
        keys = session.scalars(select(outbox.OutboxMessage.dedupe_key)).all()
    assert keys == ["kept"]


def test_instants_come_back_aware_in_utc_with_microseconds(scratch_engine):
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    with scratch_engine.begin() as conn:
        conn.execute(insert(instants).values(id=1, at=tokyo))
    with scratch_engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # The server answers in the session's zone; the type must still give UTC.
            conn.exec_driver_sql("SET TIME ZONE 'America/Caracas'")
        got = conn.execute(select(instants.c.at)).scalar_one()
    assert got == T0
    assert got.tzinfo is UTC
    assert got.microsecond == 123456


def test_instant_comparisons_in_queries_use_utc(scratch_engine):
    with scratch_engine.begin() as conn:
        conn.execute(insert(instants), [{"id": i, "at": T0 + timedelta(hours=i)} for i in range(4)])
    # 11:30 expressed in UTC+2 is 09:30 UTC: only id 0 is earlier.
    cutoff = datetime(2026, 3, 1, 11, 30, tzinfo=timezone(timedelta(hours=2)))
    with scratch_engine.connect() as conn:
        ids = conn.execute(select(instants.c.id).where(instants.c.at < cutoff)).scalars().all()
    assert ids == [0]


def test_naive_datetimes_are_refused_with_a_clear_error(scratch_engine):
    with pytest.raises(StatementError, match="naive datetime .* refused"):
        with scratch_engine.begin() as conn:
            conn.execute(insert(instants).values(id=1, at=datetime(2026, 3, 1, 9)))


def test_json_is_stored_as_canonical_text(scratch_engine):
    doc = {"b": [1, 2], "a": "Улаанбаатар", "at": T0}
    with scratch_engine.begin() as conn:
        conn.execute(insert(instants).values(id=1, doc=doc))
    with scratch_engine.connect() as conn:
        raw = conn.execute(text("SELECT doc FROM scratch_instant")).scalar_one()
        loaded = conn.execute(select(instants.c.doc)).scalar_one()
    assert raw == '{"a":"Улаанбаатар","at":"2026-03-01T09:00:00.123456Z","b":[1,2]}'
    assert raw == canonical_json(doc)
    assert loaded == {"a": "Улаанбаатар", "at": "2026-03-01T09:00:00.123456Z", "b": [1, 2]}


def test_read_then_write_transactions_do_not_lose_updates_on_sqlite(tmp_path):
    # BEGIN IMMEDIATE serialises whole transactions; with the sqlite3 module's own
    # BEGIN, the SELECT ran outside the transaction and increments were lost.
    engine = make_engine(f"sqlite:///{Path(tmp_path) / 'race.sqlite'}")
    scratch.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(counter).values(id=1, n=0))

    def bump(times: int) -> None:
        for _ in range(times):
            with engine.begin() as conn:
                n = conn.execute(select(counter.c.n)).scalar_one()
                conn.execute(update(counter).values(n=n + 1))

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(select(counter.c.n)).scalar_one() == 100
    engine.dispose()


def test_a_read_scope_does_not_wait_for_a_writer_on_sqlite(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    init_db(engine)
    with session_scope(engine) as writer:
        writer.execute(text("INSERT INTO counter (committee_id, name, value) SELECT 1, 'x', 1 WHERE 0"))
        # The writer holds the write lock (BEGIN IMMEDIATE); a read scope still answers at once.
        result: list = []
        t = threading.Thread(target=lambda: result.append(_count_in_read_scope(engine)))
        t.start()
        t.join(timeout=5)
        assert result == [0], "the read scope waited for the writer"
    engine.dispose()


def _count_in_read_scope(engine) -> int:
    with read_scope(engine) as s:
        return s.execute(text("SELECT count(*) FROM audit_event")).scalar_one()


def test_a_read_scope_refuses_to_write(engine):
    from jcbot.store.models import Committee

    with pytest.raises(RuntimeError, match="read scope tried to write"):
        with read_scope(engine) as s:
            s.add(Committee(slug="x", name="x", host_country="x", code="XX", timezone="UTC", rules_source="x",
                            rules_yaml="x", created_at=datetime.now(UTC)))
    with session_scope(engine) as s:
        assert s.execute(text("SELECT count(*) FROM committee")).scalar_one() == 0


def test_savepoints_are_plain_statements_and_roll_back_only_their_own_writes(scratch_engine):
    """make_engine's SAVEPOINT, RELEASE and ROLLBACK TO (text, not a clause compiled each time) keep their meaning."""
    from sqlalchemy import event

    said = []
    listener = lambda conn, cursor, statement, *rest: said.append(statement)  # noqa: E731
    event.listen(scratch_engine, "before_cursor_execute", listener)
    try:
        with session_scope(scratch_engine) as session:
            session.execute(insert(counter).values(id=1, n=1))
            with pytest.raises(RuntimeError):
                with session.begin_nested():
                    session.execute(insert(counter).values(id=2, n=2))
                    raise RuntimeError("this one fails alone")
            with session.begin_nested():
                session.execute(insert(counter).values(id=3, n=3))
    finally:
        event.remove(scratch_engine, "before_cursor_execute", listener)
    with session_scope(scratch_engine) as session:
        assert [tuple(r) for r in session.execute(select(counter).order_by(counter.c.id))] == [(1, 1), (3, 3)]
    marks = [s for s in said if "SAVEPOINT" in s]
    assert marks == ["SAVEPOINT sa_savepoint_1", "ROLLBACK TO SAVEPOINT sa_savepoint_1",
                     "SAVEPOINT sa_savepoint_2", "RELEASE SAVEPOINT sa_savepoint_2"]
