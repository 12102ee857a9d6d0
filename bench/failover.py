"""Replica fail-over: the leader killed (kill -9) -> a new leader's first sweep has recorded an adoption.

Three `jcbot serve` replicas run on one PostgreSQL. Each round a proposal is added whose
deadline has already passed but which no replica has looked at yet (the sweep interval is
long and no alarm was armed for it), so only a new leader's first sweep, the full sweep
it runs when it takes over, can adopt it. The leader is killed; we time until a survivor
says `leader` on /healthz and until the adoption is in the database; the killed replica is
started again for the next round. Baseline in the same run, on the same server: a process
holding the same kind of advisory lock is killed with SIGKILL while another connection
retries `pg_try_advisory_lock` in a tight loop.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

from jcbot.app import build_context
from jcbot.clock import ManualClock
from jcbot.leadership import LEADER_LOCK_KEY
from jcbot.services import assertions, proposals, roster
from jcbot.settings import load_settings

RULES = """\
timezone: UTC
committee: {name: Bench JC, code: BF}
membership: {max_members_per_government: 10}
electronic_decision: {objection_period_days: 1, period_ends: exact}
reminders: {days_before_deadline: []}
"""
RETRY_S = 1.0  # JCBOT_LEADER_INTERVAL's default, as replicas run
_BASELINE_KEY = LEADER_LOCK_KEY + 0x100  # not the replicas' lock
_HOLDER = """
import sys, time, psycopg
conn = psycopg.connect(sys.argv[1], autocommit=True)
conn.execute("SELECT pg_advisory_lock(%s)", (int(sys.argv[2]),))
print("held", flush=True)
time.sleep(600)
"""


@dataclass(frozen=True)
class FailoverResult:
    replicas: int
    to_leader_s: list[float]    # kill -> a survivor reports `leader`
    to_adoption_s: list[float]  # kill -> the adoption recorded by the new leader's first sweep
    raw_s: list[float]          # kill -> raw pg_try_advisory_lock loop acquires


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Replica:
    def __init__(self, env: dict, log: Path) -> None:
        self.env, self.log, self.port = env, log, int(env["JCBOT_HTTP_PORT"])
        self.proc = subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, cwd=env["JCBOT_STORAGE_DIR"],
                                     stdout=log.open("ab"), stderr=subprocess.STDOUT)

    def role(self) -> str | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).json().get("role")
        except (httpx.HTTPError, ValueError):
            return None

    def wait_ready(self, timeout: float = 90) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jcbot serve exited with {self.proc.returncode}: see {self.log}")
            if self.role() is not None:
                return
            time.sleep(0.1)
        raise RuntimeError(f"jcbot serve did not answer /healthz in {timeout}s: see {self.log}")


def _add_overdue(env: dict, i: int) -> str:
    """A proposal both co-chairs affirmed whose one-day period ended a second ago (adopted by no objection)."""
    distributed = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1, seconds=1)
    clock = ManualClock(distributed)
    ctx = build_context(load_settings(env=env, dotenv=None), clock)
    ctx.renderers = []  # the round's own notices are not what is measured
    if i == 0:
        roster.create_committee(ctx, "bench", RULES, "bench.yaml", "bench")
        for handle, gov in (("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")):
            roster.add_member(ctx, "bench", handle, gov, "bench", email=f"{handle}@bench.example")
        roster.elect_cochair(ctx, "bench", "japan", "tanaka", "bench")
        roster.elect_cochair(ctx, "bench", "host", "bat", "bench")
        clock.set(distributed)
    p = proposals.draft(ctx, "bench", f"Proposal {i}", "Text.", [proposals.Item("other", "Item")], "bench")
    proposals.distribute(ctx, p.ref, "bench")
    clock.advance(timedelta(milliseconds=500))
    for h in ("tanaka", "bat"):
        assertions.record_assertion(ctx, p.ref, h, "affirmative", channel="web", evidence_key=f"{i}:{h}", actor="bench")
    ctx.engine.dispose()
    return p.ref


def _status(conn: psycopg.Connection, ref: str) -> str:
    return conn.execute("SELECT v.status FROM proposal_version v JOIN proposal p ON p.id = v.proposal_id "
                        "WHERE p.ref = %s", (ref,)).fetchone()[0]


def _leader(replicas: list[_Replica], timeout: float = 30) -> _Replica:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        leaders = [r for r in replicas if r.proc.poll() is None and r.role() == "leader"]
        if len(leaders) == 1:
            return leaders[0]
        time.sleep(0.02)
    raise RuntimeError("no single leader")


def _raw(dsn: str, rounds: int) -> list[float]:
    out = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for _ in range(rounds):
            holder = subprocess.Popen([sys.executable, "-c", _HOLDER, dsn, str(_BASELINE_KEY)], stdout=subprocess.PIPE)
            assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
            t = time.perf_counter()
            holder.send_signal(signal.SIGKILL)
            while not conn.execute("SELECT pg_try_advisory_lock(%s)", (_BASELINE_KEY,)).fetchone()[0]:
                pass
            out.append(time.perf_counter() - t)
            conn.execute("SELECT pg_advisory_unlock(%s)", (_BASELINE_KEY,))
            holder.wait()
    return out


def measure(url: str, storage: Path, rounds: int = 3, replicas: int = 3) -> FailoverResult:
    """Kill the leader `rounds` times among `replicas` replicas on the PostgreSQL database at `url`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
        "JCBOT_DATABASE_URL": url, "JCBOT_SECRET": "bench-secret-0123456789",
        "JCBOT_SMTP_HOST": "127.0.0.1", "JCBOT_SMTP_PORT": str(_free_port()), "JCBOT_SMTP_SECURITY": "none",
        # No routine sweep and no alarm during a round: only the new leader's first sweep adopts.
        "JCBOT_SWEEP_INTERVAL": "3600", "JCBOT_DISPATCH_INTERVAL": "600", "JCBOT_LOG_LEVEL": "INFO", "JCBOT_LEADER_INTERVAL": str(RETRY_S)}
    envs = []
    for i in range(replicas):
        (storage / f"replica{i}").mkdir(parents=True, exist_ok=True)
        envs.append(base | {"JCBOT_STORAGE_DIR": str(storage / f"replica{i}"), "JCBOT_HTTP_PORT": str(_free_port())})
    build_context(load_settings(env=envs[0], dotenv=None)).engine.dispose()  # migrate once, before the replicas
    running = [_Replica(e, storage / f"replica{i}.log") for i, e in enumerate(envs)]
    to_leader, to_adoption = [], []
    try:
        for r in running:
            r.wait_ready()
        with psycopg.connect(_dsn(url), autocommit=True) as conn:
            for i in range(rounds):
                leader = _leader(running)
                time.sleep(1.5)  # the leader's first (full) sweep is over: the next proposal waits for a sweep
                ref = _add_overdue(envs[0], i)
                time.sleep(0.5)
                if _status(conn, ref) == "adopted":
                    raise RuntimeError("adopted before the fail-over: the measure would be meaningless")
                t = time.perf_counter()
                leader.proc.send_signal(signal.SIGKILL)
                leader.proc.wait()
                survivors = [r for r in running if r is not leader]
                new, adopted = None, None
                end = t + 60
                while (new is None or adopted is None) and time.perf_counter() < end:
                    if new is None and any(r.role() == "leader" for r in survivors):
                        new = time.perf_counter() - t
                    if adopted is None and _status(conn, ref) == "adopted":
                        adopted = time.perf_counter() - t
                    time.sleep(0.01)
                if new is None or adopted is None:
                    raise RuntimeError(f"no fail-over within 60 s (round {i})")
                to_leader.append(new)
                to_adoption.append(adopted)
                # Back to full strength for the next round.
                index = running.index(leader)
                running[index] = _Replica(leader.env, leader.log)
                running[index].wait_ready()
        raw = _raw(_dsn(url), rounds)
    finally:
        for r in running:
            if r.proc.poll() is None:
                r.proc.send_signal(signal.SIGTERM)
        for r in running:
            try:
                r.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                r.proc.kill()
    return FailoverResult(replicas, to_leader, to_adoption, raw)
