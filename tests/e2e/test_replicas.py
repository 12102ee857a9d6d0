"""Three `jcbot serve` replicas on one PostgreSQL: one leader at a time, fail-over before a deadline.

Each replica is a real subprocess with its own HTTP port, all on one database and one
aiosmtpd server. The leader is found through PostgreSQL itself (who holds the advisory
lock, by the application_name its connection carries) and through /healthz.
"""
from __future__ import annotations

import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from jcbot.leadership import LEADER_LOCK_KEY
from tests.e2e.serve_helpers import Served, free_http_port, prepare, serve_env, start_serve

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

HOLDERS = """
SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def _replicas(tmp_path, postgres_server, smtp_port: int, n: int = 3):
    name = postgres_server.create_database()
    envs = []
    for i in range(n):
        storage = tmp_path / f"replica{i}"
        storage.mkdir()
        envs.append(serve_env(storage, smtp_port, free_http_port(), JCBOT_DATABASE_URL=postgres_server.url(name)))
    return envs, postgres_server.dsn(name)


def _start_all(envs, tmp_path) -> list[Served]:
    # In parallel: three cold starts one after the other would eat the time before the deadline.
    with ThreadPoolExecutor(len(envs)) as pool:
        return list(pool.map(lambda ie: start_serve(ie[1], tmp_path / f"replica{ie[0]}.log", timeout=60), enumerate(envs)))


def _holders(dsn: str) -> list[int]:
    """OS pids of the processes whose leadership connection holds the lock (from PostgreSQL's view)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(HOLDERS, (LEADER_LOCK_KEY >> 32, LEADER_LOCK_KEY & 0xFFFFFFFF)).fetchall()
    return [int(name.rsplit("pid ", 1)[1]) for (name,) in rows]


def _role(s: Served) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{s.port}/healthz", timeout=2).json().get("role")
    except httpx.HTTPError:
        return None


def _leader(replicas: list[Served], dsn: str, timeout: float = 15) -> Served:
    """The one replica that holds the lock and says so on /healthz, the others following."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        holders = _holders(dsn)
        assert len(holders) <= 1, f"two leaders at once: {holders}"
        alive = [s for s in replicas if s.proc.poll() is None]
        roles = {s.proc.pid: _role(s) for s in alive}
        last = (holders, roles)
        if len(holders) == 1 and holders == _holders(dsn):
            leaders = [pid for pid, role in roles.items() if role == "leader"]
            if leaders == holders and all(role == "follower" for pid, role in roles.items() if pid not in holders):
                return next(s for s in alive if s.proc.pid == holders[0])
        time.sleep(0.2)
    raise AssertionError(f"no single leader after {timeout}s: holders, roles = {last}")


def _stop_all(replicas: list[Served]) -> None:
    for s in replicas:
        if s.proc.poll() is None:
            s.proc.send_signal(signal.SIGTERM)
    for s in replicas:
        try:
            s.proc.wait(timeout=30)
        except Exception:
            s.proc.kill()


def _version(dsn: str, ref: str):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT v.status, v.basis, v.adopted_at, v.deadline FROM proposal_version v JOIN proposal p "
            "ON p.id = v.proposal_id WHERE p.ref = %s", (ref,)).fetchone()


def _log_lines(s: Served, event: str) -> list[str]:
    return [line for line in s.log.read_text(errors="replace").splitlines() if f"event={event}" in line]


def test_exactly_one_replica_leads_and_another_takes_over(tmp_path, postgres_server, smtp_server):
    envs, dsn = _replicas(tmp_path, postgres_server, smtp_server.port)
    prepare(envs[0], datetime.now(UTC) - timedelta(hours=1))
    replicas = _start_all(envs, tmp_path)
    try:
        first = _leader(replicas, dsn)
        # Steady: the lock stays where it is (followers keep trying, and failing).
        end = time.monotonic() + 3
        while time.monotonic() < end:
            assert _holders(dsn) == [first.proc.pid]
            assert [_role(s) for s in replicas].count("leader") == 1 and _role(first) == "leader"
            time.sleep(0.2)
        assert [len(_log_lines(s, "leadership.gained")) for s in replicas] == [int(s is first) for s in replicas]

        # kill -9: PostgreSQL frees the lock with the connection; a follower takes it within seconds.
        t = time.monotonic()
        first.proc.kill()
        first.proc.wait()
        second = _leader(replicas, dsn, timeout=10)
        took = time.monotonic() - t
        assert second is not first and took < 5, took
        assert len(_log_lines(second, "leadership.gained")) == 1

        # A graceful stop releases the lock at once for the last one.
        t = time.monotonic()
        assert second.stop() == 0, second.log.read_text()
        assert _log_lines(second, "leadership.released")
        third = _leader(replicas, dsn, timeout=10)
        assert third not in (first, second) and time.monotonic() - t < 10
    finally:
        _stop_all(replicas)


def test_leader_killed_before_the_deadline_adoption_at_the_instant_notices_once(tmp_path, postgres_server, smtp_server):
    envs, dsn = _replicas(tmp_path, postgres_server, smtp_server.port)
    replicas = _start_all(envs, tmp_path)
    try:
        leader = _leader(replicas, dsn)
        # Proposed while the replicas run (however slowly they started): a one-day period
        # distributed a day ago less 12 s ends 12 s from now; the leader's tick arms its alarm.
        distributed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1) + timedelta(seconds=12)
        ref = prepare(envs[0], distributed)
        _, _, _, deadline = _version(dsn, ref)
        deadline = deadline.astimezone(UTC)
        assert deadline == distributed + timedelta(days=1)
        # Everything sent before the kill (distribution, reminders) is out of the way.
        time.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds() - 3))
        remaining = (deadline - datetime.now(UTC)).total_seconds()
        assert remaining > 1, f"too slow a start: only {remaining:.1f}s left before the deadline"
        os.kill(leader.proc.pid, signal.SIGKILL)
        leader.proc.wait()
        assert _version(dsn, ref)[0] != "adopted"

        seen = None
        while datetime.now(UTC) < deadline + timedelta(seconds=10):
            row = _version(dsn, ref)
            if row[0] == "adopted":
                seen = datetime.now(UTC)
                break
            time.sleep(0.05)
        assert seen is not None, "not adopted 10 s after the deadline"
        status, basis, adopted_at, _ = _version(dsn, ref)
        assert (status, basis) == ("adopted", "no_objection")
        assert adopted_at.astimezone(UTC) == deadline  # the core's instant, not the new leader's
        assert (seen - deadline).total_seconds() < 5, seen - deadline
        new_leader = _leader(replicas, dsn, timeout=5)
        assert new_leader is not leader

        def adoption_notices() -> Counter:
            return Counter(m.rcpt_tos[0] for m in smtp_server.messages if m.message["X-Jcbot-Notice"] == "adoption")
        end = time.monotonic() + 20
        while time.monotonic() < end and sum(adoption_notices().values()) < 4:
            time.sleep(0.2)
        time.sleep(2)  # any second copy from another replica's dispatcher would arrive by now
    finally:
        _stop_all(replicas)
    assert adoption_notices() == Counter(f"{m}@jc.example" for m in ("tanaka", "sato", "bat", "oyun"))
    ids = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert all(n == 1 for n in ids.values()), ids
    # The survivors' logs hold no traceback.
    assert not any("Traceback" in s.log.read_text() for s in replicas if s is not leader)
