"""Helpers of the tests that deliver the last affirmatives at the same moment.

A clock that moves on every read, so that no two transactions share an instant, and
that can pause after a read as a descheduled thread does; and, on PostgreSQL, a side
connection that holds a proposal's row lock while concurrent requests queue behind it, so
that they are let go together (a real lock, a real wait: nothing in jcbot is replaced).
"""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

# Sessions of this database waiting for a lock (the cluster may serve other tests' databases).
WAITING = text("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
               "WHERE NOT l.granted AND a.datname = current_database()")


class TickingClock:
    """A clock that moves forward by a millisecond every time it is read.

    With `jitter` (seconds), a read returns only after a random pause of up to that long,
    as when the thread is descheduled just after reading the time: the order in which
    threads read their instants and the order in which they go on to take a lock then
    differ often, instead of now and then.
    """

    def __init__(self, start: datetime, jitter: float = 0.0) -> None:
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()
        self._random = random.Random(start.timestamp())
        self.jitter = jitter

    def now(self) -> datetime:
        with self._lock:
            self._now += timedelta(milliseconds=1)
            instant, pause = self._now, self._random.uniform(0, self.jitter)
        if pause:
            time.sleep(pause)
        return instant

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


@contextmanager
def queued_behind_proposal_lock(engine: Engine, ref: str) -> Iterator[Callable[[int], None]]:
    """On PostgreSQL, hold the row lock of proposal `ref`; yields `queued(n)`: wait until n sessions wait for it.

    Requests started inside the block queue behind the lock and are let go together when
    it ends. On SQLite nothing is held and `queued` returns at once: the only lock there is
    the database's write lock, which every transaction takes (BEGIN IMMEDIATE), so holding
    it stops the requests at their first transaction, and SQLite's busy handler, which
    sleeps longer the longer a connection waited, then lets them through one by one, in
    order: fewer of them overlap than when they arrive unhindered.
    """
    if engine.dialect.name != "postgresql":
        yield lambda n: None
        return
    with engine.connect() as side:
        side.execute(text("SELECT id FROM proposal WHERE ref = :r FOR UPDATE"), {"r": ref})

        def queued(n: int) -> None:
            deadline, waiting = time.monotonic() + 20, 0
            with engine.connect() as probe:
                while time.monotonic() < deadline:
                    waiting = probe.execute(WAITING).scalar_one()
                    probe.rollback()
                    if waiting >= n:
                        return
                    time.sleep(0.02)
            raise AssertionError(f"only {waiting} of {n} requests queued for the lock of {ref}")

        try:
            yield queued
        finally:
            side.rollback()
