"""SQLite's write lock held by another connection, as a writer mid-transaction holds it."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine


@contextmanager
def write_lock_held(engine: Engine) -> Iterator[None]:
    """Hold BEGIN IMMEDIATE on a side connection for the block; skip on other databases.

    Checks that the lock is really held (a second BEGIN IMMEDIATE is refused at once), so
    a read that answers inside the block did not wait for it.
    """
    if engine.dialect.name != "sqlite":
        pytest.skip("the write lock is SQLite's (PostgreSQL readers never wait for writers)")
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
