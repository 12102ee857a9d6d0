"""The floor under a service: the very statements it sent, replayed on a copy of its database.

`Recorder` notes every statement the engine sends to the driver (with its parameters,
as the driver got them) and every COMMIT and ROLLBACK, while a service runs. `copy_of`
makes a copy of the database as it was before that run (SQLite's backup API, a
PostgreSQL database made from it as a template), and `replay` sends the recorded
statements to the copy again, in order:

- through the driver alone (sqlite3, psycopg): what the database itself costs, the
  floor no code in Python can go under;
- through SQLAlchemy's connection (`exec_driver_sql`): the same, plus SQLAlchemy's
  execution layer, without building or compiling a statement;
- on PostgreSQL, through psycopg in pipeline mode: each transaction's statements sent
  without waiting for their answers, one wait at its COMMIT. Code that must read before
  it writes needs a few waits more, so this is the floor of any such design.

The copy then holds what the service wrote: `audit_head` compares the two.
"""
from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from jcbot.store.db import make_engine

COMMIT, ROLLBACK = "COMMIT", "ROLLBACK"


@dataclass
class Recorder:
    """Statements sent by an engine while recording: (statement, parameters, executemany), COMMIT, ROLLBACK."""

    engine: Engine
    sent: list[tuple[str, Any, bool]] = field(default_factory=list)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                   executemany: bool) -> None:
        self.sent.append((statement, parameters, executemany))

    def _commit(self, _conn: Any) -> None:
        self.sent.append((COMMIT, None, False))

    def _rollback(self, _conn: Any) -> None:
        self.sent.append((ROLLBACK, None, False))

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        hooks = (("before_cursor_execute", self._statement), ("commit", self._commit), ("rollback", self._rollback))
        for name, fn in hooks:
            event.listen(self.engine, name, fn)
        try:
            yield self
        finally:
            for name, fn in hooks:
                event.remove(self.engine, name, fn)

    @property
    def statements(self) -> int:
        """Statements sent, COMMIT and ROLLBACK not counted."""
        return sum(1 for s, _, _ in self.sent if s not in (COMMIT, ROLLBACK))


@contextmanager
def copy_of(engine: Engine) -> Iterator[str]:
    """The URL of a copy of `engine`'s database as it is now, removed afterwards."""
    url = engine.url
    if url.get_backend_name() == "sqlite":
        copy = f"{url.database}.copy-{uuid.uuid4().hex[:8]}"
        with engine.connect() as conn:  # a consistent copy, the WAL's pages included
            source = conn.connection.driver_connection
            target = sqlite3.connect(copy)
            try:
                source.backup(target)
            finally:
                target.close()
        try:
            yield url.set(database=copy).render_as_string(hide_password=False)
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(copy + suffix).unlink(missing_ok=True)
        return
    name = f"{url.database}_copy_{uuid.uuid4().hex[:8]}"
    engine.dispose()  # a template may have no other session
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{url.database}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def replay(url: str, sent: list[tuple[str, Any, bool]], *, through: str) -> float:
    """Send `sent` to the database at `url` again, in order; seconds taken.

    `through` is "driver" (the DBAPI connection itself), "sqlalchemy" (a Connection's
    `exec_driver_sql`, whose own BEGIN replaces the one recorded) or, on PostgreSQL,
    "pipeline" (psycopg's pipeline mode: one wait per transaction).
    """
    if through not in ("driver", "sqlalchemy", "pipeline"):
        raise ValueError(f"through {through!r}: use driver, sqlalchemy or pipeline")
    engine = make_engine(url)
    try:
        if through == "sqlalchemy":
            return _by_sqlalchemy(engine, sent)
        if through == "pipeline" and engine.dialect.name != "postgresql":
            raise ValueError(f"through pipeline: psycopg's pipeline mode is PostgreSQL's, not {engine.dialect.name}'s")
        return _by_driver(engine, sent, pipelined=through == "pipeline")
    finally:
        engine.dispose()


def _by_driver(engine: Engine, sent: list[tuple[str, Any, bool]], pipelined: bool = False) -> float:
    proxied = engine.raw_connection()  # connected as jcbot connects (SQLite's pragmas)
    try:
        dbapi = proxied.driver_connection
        cursor = dbapi.cursor()
        began = time.perf_counter()
        with dbapi.pipeline() if pipelined else nullcontext():
            for statement, parameters, many in sent:
                if statement == COMMIT:
                    dbapi.commit()  # in a pipeline: the one wait for everything sent since the last
                elif statement == ROLLBACK:
                    dbapi.rollback()
                elif _many(parameters, many):
                    cursor.executemany(statement, parameters)
                else:
                    cursor.execute(statement, parameters)
                    if not pipelined and cursor.description is not None:
                        cursor.fetchall()
        return time.perf_counter() - began
    finally:
        proxied.close()


def _by_sqlalchemy(engine: Engine, sent: list[tuple[str, Any, bool]]) -> float:
    with engine.connect() as conn:
        began = time.perf_counter()
        for statement, parameters, many in sent:
            if statement == COMMIT:
                conn.commit()
            elif statement == ROLLBACK:
                conn.rollback()
            elif statement.startswith("BEGIN"):
                continue  # the Connection begins as jcbot's engine does (make_engine's BEGIN IMMEDIATE)
            else:
                result = conn.exec_driver_sql(statement, list(parameters) if _many(parameters, many) else parameters)
                if result.returns_rows:
                    result.all()
        return time.perf_counter() - began


def _many(parameters: Any, executemany: bool) -> bool:
    """A true executemany: a list of parameter sets. SQLAlchemy's batched INSERT (its
    "insertmanyvalues") reports executemany too, with one flat set for one statement."""
    return (executemany and isinstance(parameters, (list, tuple)) and bool(parameters)
            and isinstance(parameters[0], (list, tuple, dict)))


def audit_head(url: str) -> tuple[int, str] | None:
    """The audit chain's last event (id, hash) in the database at `url`."""
    engine = create_engine(make_url(url))
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")).first()
            return None if row is None else (row[0], row[1])
    finally:
        engine.dispose()
