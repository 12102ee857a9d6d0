"""Assertions recorded per second: through `record_assertion` against raw insert-and-commit.

The service does what the product needs for each assertion (lock the proposal, read its
facts, ask the core, write the row, the audit event and the confirmation, settle the
verdict) in one transaction; the raw baseline is one plain SQL INSERT of the same row
into the `assertion` table and a COMMIT, on the same database. The ratio says what the
procedure costs over the limit of the storage.

Where the rest goes: the statements the service sent are replayed on copies of the
database as it was before the run (`bench.replay`), through the driver alone (what the
database costs: no service of these statements can be faster) and through SQLAlchemy's
connection (what its execution layer adds). Each copy must end with the service's own
audit chain head, or the replay did not do what the service did.
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, bindparam, select, text

from bench.replay import Recorder, audit_head, copy_of, replay
from jcbot.clock import ManualClock
from jcbot.resources import resolve_rules
from jcbot.services import proposals, roster
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings
from jcbot.store.db import UTCDateTime, init_db, make_engine, session_scope
from jcbot.store.models import AssertionRecord

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
MEMBERS = [(f"j{i:02d}", "japan") for i in range(10)] + [(f"h{i:02d}", "host") for i in range(10)]
ACTOR = "bench"


@dataclass(frozen=True)
class Result:
    """Assertions per second through the service and raw, on one database."""

    database: str
    n: int
    service_per_s: float
    raw_per_s: float
    statements: float = 0.0  # statements the service sent per assertion (BEGIN included, COMMIT not)
    floor_per_s: float = 0.0  # those statements replayed through the driver alone
    sqlalchemy_per_s: float = 0.0  # ... and through SQLAlchemy's connection
    pipeline_per_s: float | None = None  # PostgreSQL: ... and through psycopg's pipeline, one wait per transaction

    @property
    def ratio(self) -> float:
        """service / raw: the share of the raw rate the service keeps."""
        return self.service_per_s / self.raw_per_s

    @property
    def ceiling(self) -> float:
        """floor / raw: the ratio of a service that cost nothing beyond its statements."""
        return self.floor_per_s / self.raw_per_s

    @property
    def pipeline_ceiling(self) -> float | None:
        """The same with the statements pipelined (PostgreSQL): the ratio no design with one wait per assertion passes."""
        return None if self.pipeline_per_s is None else self.pipeline_per_s / self.raw_per_s


def _setup(ctx: ServiceContext, n: int) -> list[tuple[str, str]]:
    """A committee of 20, enough proposals for `n` assertions; returns (ref, member) in order."""
    path = resolve_rules("japan-mongolia")
    roster.create_committee(ctx, "bench", path.read_text(encoding="utf-8"), str(path), ACTOR)
    for handle, gov in MEMBERS:
        roster.add_member(ctx, "bench", handle, gov, ACTOR, email=f"{handle}@bench.example")
    roster.elect_cochair(ctx, "bench", "japan", "j00", ACTOR)
    roster.elect_cochair(ctx, "bench", "host", "h00", ACTOR)
    work = []
    # Each proposal gets one assertion per member: the last one adopts it by unanimity,
    # so the run includes the adoption path (decision number, references, notices).
    for _ in range(-(-n // len(MEMBERS))):
        p = proposals.draft(ctx, "bench", "Approve a methodology", "Text.",
                            [proposals.Item("methodology_approval", "Boilers")], ACTOR)
        proposals.distribute(ctx, p.ref, ACTOR)
        work += [(p.ref, handle) for handle, _ in MEMBERS]
    return work[:n]


def _service(ctx: ServiceContext, work: list[tuple[str, str]]) -> float:
    clock: ManualClock = ctx.clock  # type: ignore[assignment]
    began = time.perf_counter()
    for i, (ref, member) in enumerate(work):
        clock.advance(timedelta(seconds=1))
        record_assertion(ctx, ref, member, "affirmative", channel="email", evidence_key=f"<bench-{i}@x>", actor=ACTOR)
    return time.perf_counter() - began


_INSERT = text(
    "INSERT INTO assertion (version_id, member_id, member, position, opinion, at, channel, evidence_key, "
    "recorded_at, recorded_by, note) VALUES (:version_id, :member_id, :member, :position, :opinion, :at, :channel, "
    ":evidence_key, :recorded_at, :recorded_by, :note)"
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("recorded_at", type_=UTCDateTime()))


def _raw(engine: Engine) -> tuple[float, int]:
    """Insert-and-commit a copy of every row the service wrote, one transaction each."""
    with session_scope(engine) as s:
        rows = [dict(r._mapping) for r in s.execute(select(AssertionRecord.__table__).order_by(AssertionRecord.id))]
    began = time.perf_counter()
    with engine.connect() as conn:
        for r in rows:
            r.pop("id")
            r["evidence_key"] = "raw:" + r["evidence_key"]  # the same row, as a new piece of evidence
            conn.execute(_INSERT, r)
            conn.commit()
    return time.perf_counter() - began, len(rows)


def measure(database: str, url: str, n: int, storage: Path, render: bool = True) -> Result:
    """Record `n` assertions through the service, then the same rows raw, on `url`."""
    engine = make_engine(url)
    try:
        init_db(engine)
        # A secret of its own: the email renderer would otherwise warn and make one in storage.
        settings = load_settings(env={"JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-" + "0" * 26},
                                 dotenv=None)
        from jcbot.app import renderers

        ctx = ServiceContext(engine, ManualClock(START), settings, renderers(settings) if render else [])
        work = _setup(ctx, n)
        ways = ["driver", "sqlalchemy"] + (["pipeline"] if engine.dialect.name == "postgresql" else [])
        with ExitStack() as copies:
            urls = {way: copies.enter_context(copy_of(engine)) for way in ways}
            with Recorder(engine).recording() as recorder:  # its cost, a list append per statement, is the service's
                service_s = _service(ctx, work)
            took = {way: replay(url, recorder.sent, through=way) for way, url in urls.items()}
            head = audit_head(engine.url.render_as_string(hide_password=False))
            for copy in urls.values():
                assert audit_head(copy) == head, f"the replay on {copy} did not end where the service did"
        raw_s, count = _raw(engine)
        assert count == n, f"expected {n} assertion rows, found {count}"
        return Result(database, n, n / service_s, n / raw_s, recorder.statements / n, n / took["driver"],
                      n / took["sqlalchemy"], n / took["pipeline"] if "pipeline" in took else None)
    finally:
        engine.dispose()
