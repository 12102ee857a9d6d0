"""The sweep against 100,000 open proposals, next to a plain SQL count of the same rows.

A routine sweep only looks at open proposals whose deadline has passed (time alone
changes nothing else), so with 100,000 proposals in their period it costs about one
indexed query; the full reconciliation sweep (at start and hourly) evaluates every open
proposal, measured per proposal on a smaller set and extrapolated.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from jcbot.clock import ManualClock
from jcbot.services import proposals, roster
from jcbot.services.sweep import sweep as run_sweep
from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings
from jcbot.store.db import init_db, make_engine, session_scope

RULES = """\
timezone: Asia/Tokyo
committee: {name: Bench JC, code: BN}
membership: {max_members_per_government: 10}
electronic_decision: {objection_period_days: 20}
reminders: {days_before_deadline: []}
"""
OPEN = "status IN ('open', 'objected') AND distributed_at IS NOT NULL"


@dataclass(frozen=True)
class SweepResult:
    database: str
    rows: int
    count_s: float
    sweep_s: float
    full_per_proposal_s: float


def _context(url: str, storage: Path, now: datetime) -> ServiceContext:
    engine = make_engine(url)
    init_db(engine)
    return ServiceContext(engine, ManualClock(now), load_settings(env={"JCBOT_STORAGE_DIR": str(storage)}, dotenv=None), [])


def _committee(ctx: ServiceContext) -> str:
    roster.create_committee(ctx, "bench", RULES, "bench.yaml", "bench")
    for handle, gov in (("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")):
        roster.add_member(ctx, "bench", handle, gov, "bench")
    roster.elect_cochair(ctx, "bench", "japan", "tanaka", "bench")
    roster.elect_cochair(ctx, "bench", "host", "bat", "bench")
    p = proposals.draft(ctx, "bench", "Template", "Text.", [proposals.Item("other", "Item")], "bench")
    proposals.distribute(ctx, p.ref, "bench")
    return p.ref


def _clone(ctx: ServiceContext, ref: str, n: int) -> None:
    """n more open proposals like `ref`, inserted in bulk (the sweep reads them like any other)."""
    with session_scope(ctx.engine) as s:
        v = s.execute(text("SELECT v.* FROM proposal_version v JOIN proposal p ON p.id = v.proposal_id WHERE p.ref = :r"),
                      {"r": ref}).mappings().one()
        p = s.execute(text("SELECT * FROM proposal WHERE ref = :r"), {"r": ref}).mappings().one()
        start = s.execute(text("SELECT max(id) FROM proposal")).scalar_one()
        s.execute(text("INSERT INTO proposal (id, committee_id, ref, current_version, status, created_at, created_by) "
                       "VALUES (:id, :c, :ref, 1, 'open', :at, 'bench')"),
                  [{"id": start + i, "c": p["committee_id"], "ref": f"BN-B-{start + i:06d}", "at": p["created_at"]} for i in range(1, n + 1)])
        cols = ("version", "title", "text", "created_at", "distributed_at", "distributed_by", "deadline", "electorate", "status")
        s.execute(text(f"INSERT INTO proposal_version (proposal_id, {', '.join(cols)}) VALUES (:pid, {', '.join(':' + c for c in cols)})"),
                  [{"pid": start + i, **{c: v[c] for c in cols}} for i in range(1, n + 1)])


def measure(kind: str, url: str, rows: int, storage: Path, full_sample: int = 500) -> SweepResult:
    """Time a plain count of the open rows, a routine sweep, and the full sweep per proposal."""
    now = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    ctx = _context(url, storage, now)
    ref = _committee(ctx)
    _clone(ctx, ref, full_sample - 1)
    ctx.clock.set(now + timedelta(days=1))  # type: ignore[attr-defined]
    t = time.perf_counter()
    result = run_sweep(ctx, full=True)
    full = (time.perf_counter() - t) / result.examined
    _clone(ctx, ref, rows - full_sample)  # now `rows` open proposals, all within their period
    with ctx.engine.connect() as conn:
        t = time.perf_counter()
        counted = conn.execute(text(f"SELECT count(*) FROM proposal_version WHERE {OPEN}")).scalar_one()
        count_s = time.perf_counter() - t
    t = time.perf_counter()
    swept = run_sweep(ctx)
    sweep_s = time.perf_counter() - t
    assert counted >= rows and swept.changed == [], (counted, swept)
    ctx.engine.dispose()
    return SweepResult(kind, counted, count_s, sweep_s, full)
