"""SQLite's write lock held by another connection, as a writer mid-transaction holds it."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Hold what a writer mid-transaction holds, on a side connection, for the block.

    SQLite: BEGIN IMMEDIATE, the database's write lock. PostgreSQL: every table locked
    IN EXCLUSIVE MODE, which stops every writer and leaves plain reads free. Either way
    the lock is checked to be really held (a writer is refused at once), so a read that
    answers inside the block did not wait for it.
    """
    if engine.dialect.name == "postgresql":
        with _postgres_writers_stopped(engine):
            yield
        return
    path = engine.url.database
    side = sqlite3.connect(path, isolation_level=None, timeout=0)
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        side.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        side.execute("ROLLBACK")
        side.close()
        other.close()


@contextmanager
def _postgres_writers_stopped(engine: Engine) -> Iterator[None]:
    with engine.connect() as side, engine.connect() as other:
        tables = side.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars().all()
        assert "proposal" in tables
        # Quoted: "case" is a reserved word in PostgreSQL (the project cycle's table).
        quoted = ", ".join('"' + t + '"' for t in tables)
        side.execute(text(f"LOCK TABLE {quoted} IN EXCLUSIVE MODE"))
        with pytest.raises(OperationalError, match="lock"):
            other.execute(text("LOCK TABLE proposal IN ROW EXCLUSIVE MODE NOWAIT"))
        other.rollback()
        try:
            yield
        finally:
            side.rollback()
