"""jcbot/leadership.py in-process: the advisory lock on a real PostgreSQL, always-leader on SQLite,
and the scheduler's leader-only jobs taken and dropped."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import psycopg
import pytest

from jcbot.app import build_context
from jcbot.leadership import LEADER_LOCK_KEY, AdvisoryLeadership, Leadership, leadership_for
from jcbot.scheduler import Scheduler
from jcbot.services import queries
from jcbot.settings import load_settings
from jcbot.store.db import make_engine


class Run:
    """One leadership running as a task, with the changes it reported."""

    def __init__(self, leadership: Leadership) -> None:
        self.leadership = leadership
        self.changes: list[bool] = []
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(leadership.run(self.changes.append, self.stop))

    async def end(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


async def _until(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_on_sqlite_the_process_is_always_the_leader(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/jcbot.sqlite")
    run = Run(leadership_for(engine))
    assert type(run.leadership) is Leadership
    await _until(lambda: run.changes, 2, "leadership")
    assert run.changes == [True] and run.leadership.role == "leader"
    await run.end()
    assert run.changes == [True]  # stopping is not a change the scheduler must act on


@pytest.mark.postgres
async def test_one_replica_holds_the_lock_and_another_takes_over_when_it_stops(postgres_server):
    engine = make_engine(postgres_server.url(postgres_server.create_database()))
    runs = [Run(AdvisoryLeadership(engine, retry_s=0.2)) for _ in range(3)]
    try:
        await _until(lambda: any(r.leadership.leader for r in runs), 5, "a leader")
        await asyncio.sleep(1)  # followers keep trying, and keep failing
        assert [r.changes for r in runs].count([True]) == 1 and [r.changes for r in runs].count([]) == 2
        first = next(r for r in runs if r.leadership.leader)
        assert first.leadership.role == "leader"
        await first.end()
        rest = [r for r in runs if r is not first]
        t = time.monotonic()
        await _until(lambda: any(r.leadership.leader for r in rest), 3, "a new leader")
        assert time.monotonic() - t < 1  # released at once, taken at the next try
        await asyncio.sleep(0.5)
        assert sum(r.leadership.leader for r in rest) == 1
    finally:
        for r in runs:
            await r.end()
        engine.dispose()


@pytest.mark.postgres
async def test_a_leader_whose_connection_dies_steps_down_then_tries_again(postgres_server):
    name = postgres_server.create_database()
    engine = make_engine(postgres_server.url(name))
    run = Run(AdvisoryLeadership(engine, retry_s=0.2))
    try:
        await _until(lambda: run.changes == [True], 5, "leadership")
        # The server ends the lock's session (as a failover or an admin would): the lock is gone.
        with psycopg.connect(postgres_server.dsn(name), autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid = %s AND objid = %s", (LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF)).fetchall()
        assert killed == [(True,)]
        await _until(lambda: run.changes[:2] == [True, False], 3, "stepping down")
        await _until(lambda: run.changes == [True, False, True], 3, "leading again on a new connection")
    finally:
        await run.end()
        engine.dispose()


async def test_the_scheduler_runs_the_leader_jobs_only_while_leading(tmp_path, monkeypatch):
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SWEEP_INTERVAL": "3600"}, dotenv=None)
    ctx = build_context(settings)

    async def poll() -> int:
        return 0

    class Idle:  # a dispatcher with nothing to send: this test is about the leader's jobs
        async def run_once(self) -> int:
            return 0

        drain = run_once

        def stop(self) -> None: ...

        def release(self) -> None: ...

    scheduler = Scheduler(ctx, dispatcher=Idle(), poll_inbox=poll)  # type: ignore[arg-type]
    jobs = lambda: {j.id for j in scheduler.aps.get_jobs()}  # noqa: E731
    scheduler.start(lead=False)
    try:
        assert jobs() == {"dispatch"}  # every replica dispatches the outbox
        scheduler.set_leader(True)
        assert jobs() == {"dispatch", "sweep", "imap"}
        await _until(lambda: scheduler._last_full is not None, 5, "the new leader's full sweep")
        ahead = ctx.clock.now() + timedelta(hours=1)
        for name in ("next_deadline", "next_change"):  # the alarm's query, by either of its names
            monkeypatch.setattr(queries, name, lambda ctx: ahead, raising=False)
        await scheduler._arm_deadline()
        assert jobs() == {"dispatch", "sweep", "imap", "deadline"}
        scheduler.set_leader(False)
        assert jobs() == {"dispatch"} and not scheduler.leading
        await scheduler._arm_deadline()  # a tick ending after the step-down arms no alarm
        assert jobs() == {"dispatch"}
    finally:
        await scheduler.shutdown()
        ctx.engine.dispose()
