"""Which replica runs the scheduler's leader-only jobs (sweeps, the deadline alarm, reminders, IMAP).

Several `jcbot serve` replicas on one PostgreSQL all serve HTTP, Slack and LMTP and
dispatch the outbox; one of them holds the leadership: a session-level advisory lock
taken on a connection of its own, kept open and checked with `SELECT 1`. When that
process dies (even by kill -9) its connection closes and PostgreSQL frees the lock; a
follower, retrying every `JCBOT_LEADER_INTERVAL` seconds, takes it over.

A moment with two leaders (the old one has not yet noticed its connection is gone) does
no harm: a sweep run twice, or on two machines at once, records the same adoption at the
same instant and enqueues each notice once (ARCHITECTURE.md). The lock only keeps the
work (and the IMAP mailbox) from being done by every replica all the time.

On SQLite the process is always the leader: a SQLite file is the single-host, single
process deployment. Several processes on one SQLite file stay correct (SQLite's own
locks serialise them, and every job is idempotent) but each runs every job; replicas
need PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger("jcbot.leadership")

# The same in every jcbot process; "jcbot" + 02 (01 guards the audit chain, store/audit.py).
LEADER_LOCK_KEY = 0x6A63626F74_02
OnChange = Callable[[bool], None]


def leadership_for(engine: Engine, retry_s: float = 1.0, timeout_s: float = 5.0) -> Leadership:
    """The leadership that fits the database: an advisory lock on PostgreSQL, else always the leader."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLeadership(engine, retry_s=retry_s, timeout_s=timeout_s)
    return Leadership()


class Leadership:
    """Always the leader (SQLite: one process, one host)."""

    leader = False

    @property
    def role(self) -> str:
        """`leader` or `follower`, as /healthz reports it."""
        return "leader" if self.leader else "follower"

    async def run(self, on_change: OnChange, stop: asyncio.Event) -> None:
        """Hold the leadership until `stop` is set, calling `on_change` on every change."""
        self._change(True, on_change, "single process")
        await stop.wait()
        self.leader = False

    def _change(self, leader: bool, on_change: OnChange, reason: str) -> None:
        self.leader = leader
        log.info("event=leadership.%s role=%s reason=%r pid=%d", "gained" if leader else "lost",
                 self.role, reason, os.getpid())
        try:
            on_change(leader)
        except Exception:
            log.exception("event=leadership.change outcome=error")


class AdvisoryLeadership(Leadership):
    """The holder of a PostgreSQL session-level advisory lock on a dedicated connection."""

    def __init__(self, engine: Engine, retry_s: float = 1.0, timeout_s: float = 5.0) -> None:
        # Its own engine without a pool: the lock's connection must never go back to a pool
        # (where another checkout would inherit the lock) nor be recycled under us.
        self._engine = create_engine(engine.url, poolclass=NullPool, connect_args={
            "connect_timeout": max(1, int(timeout_s)),
            "application_name": f"jcbot-leadership {socket.gethostname()} pid {os.getpid()}"[:63],
            # The client notices a dead server or network within seconds, so a leader cut off
            # steps down (its check fails) before the server frees the lock for another.
            "keepalives": 1, "keepalives_idle": 2, "keepalives_interval": 1, "keepalives_count": 2,
            "tcp_user_timeout": int(timeout_s * 1000),
            # And the server notices a vanished leader (host down, network cut) within seconds,
            # not after the system's two hours of TCP idle, and frees the lock for a follower.
            "options": f"-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3 "
                       f"-c tcp_user_timeout={int(timeout_s * 2000)}"})
        self.retry_s = retry_s
        self.timeout_s = timeout_s
        self._conn: Connection | None = None
        self._failing = False  # one warning per outage, not one per try
        self.leader = False

    async def run(self, on_change: OnChange, stop: asyncio.Event) -> None:
        """Try for the lock (follower) or check it is still held (leader) every `retry_s` until `stop`."""
        try:
            while not stop.is_set():
                held = await self._call(self._check if self.leader else self._try_acquire)
                if held != self.leader:
                    self._change(held, on_change, "lock acquired" if held else "lock connection lost")
                try:
                    await asyncio.wait_for(stop.wait(), self.retry_s)
                except TimeoutError:
                    pass
        finally:
            was = self.leader
            self.leader = False
            await asyncio.to_thread(self._close)
            if was:
                log.info("event=leadership.released pid=%d", os.getpid())
            self._engine.dispose()

    async def _call(self, fn: Callable[[], bool]) -> bool:
        """Run a blocking step with a time limit; a step that fails or hangs means no lock."""
        try:
            held = await asyncio.wait_for(asyncio.to_thread(fn), self.timeout_s)
            self._failing = False
            return held
        except Exception as exc:  # connection refused, reset, timed out...
            log.log(logging.DEBUG if self._failing else logging.WARNING, "event=leadership.check outcome=error error=%r",
                    str(exc).strip() or type(exc).__name__)
            self._failing = True
            # Dropped, not closed politely: a close could hang on the same dead socket.
            conn, self._conn = self._conn, None
            if conn is not None:
                asyncio.get_running_loop().run_in_executor(None, _quietly, conn.invalidate)
            return False

    def _connection(self) -> Connection:
        if self._conn is None:
            # Autocommit: a session lock needs no transaction, and an idle-in-transaction
            # connection held for days would keep old row versions from being vacuumed.
            self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _try_acquire(self) -> bool:
        return bool(self._connection().execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY}).scalar())

    def _check(self) -> bool:
        if self._conn is None:
            return False
        self._conn.execute(text("SELECT 1"))
        return True

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            _quietly(conn.close)  # closing the session frees the lock at once


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass
