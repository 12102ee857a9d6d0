"""The last affirmatives arriving at the same moment adopt the proposal, every time.

A transaction that waited for the proposal's lock must judge at an instant read after
the wait; one that judged at the instant it read before waiting did not see the
affirmative the other had just recorded, and a unanimous adoption went unrecorded.

Each round holds the write lock from a side connection while the workers start, so all
of them read their clock and queue behind it; they are then released together. The
clock moves a millisecond on every read, so the order of the instants the workers read
and the order in which they get the lock differ from round to round.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import text

from jcbot.services.assertions import record_assertion
from jcbot.store.models import AssertionRecord, Decision, Proposal
from support.at_once import TickingClock

from .helpers import T0, committee, current_version, distributed, outbox, rows
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")
ROUNDS = 8


@pytest.fixture
def ticking(ctx):
    ctx.clock = TickingClock(T0 - timedelta(days=7))
    return ctx


@contextmanager
def write_lock_held(ctx, ref: str) -> Iterator[Callable[[int], None]]:
    """Hold the lock every change of `ref` needs; yields a wait-until-n-workers-queue function."""
    with ctx.engine.connect() as side:
        postgres = side.dialect.name == "postgresql"
        if postgres:
            side.execute(text("SELECT id FROM proposal WHERE ref = :r FOR UPDATE"), {"r": ref})
        else:
            side.exec_driver_sql("SELECT 1")  # jcbot's engine begins every transaction IMMEDIATE

        def queued(n: int) -> None:
            if not postgres:
                time.sleep(0.3)  # SQLite shows no lock table: give the workers time to reach BEGIN
                return
            deadline = time.monotonic() + 20
            with ctx.engine.connect() as probe:
                while time.monotonic() < deadline:
                    waiting = probe.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted")).scalar_one()
                    probe.rollback()
                    if waiting >= n:
                        return
                    time.sleep(0.02)
            raise AssertionError(f"only {waiting} of {n} workers queued for the lock")

        try:
            yield queued
        finally:
            side.rollback()


def at_once(ctx, ref: str, members: tuple[str, ...]) -> list[object]:
    """Record an affirmative of each of `members` in its own thread, released together."""
    results: list[object] = [None] * len(members)

    def run(i: int, member: str) -> None:
        try:
            results[i] = record_assertion(ctx, ref, member, "affirmative", channel="slack",
                                          evidence_key=f"{ref}:{member}", actor=f"slack:{member}")
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    with write_lock_held(ctx, ref) as queued:
        threads = [threading.Thread(target=run, args=(i, m)) for i, m in enumerate(members)]
        for t in threads:
            t.start()
        queued(len(members))
    for t in threads:
        t.join(30)
    return results


@pytest.mark.parametrize("last", [2, 5], ids=["last-two", "last-five"])
def test_the_completing_affirmatives_at_once_adopt_every_time(ticking, last):
    ctx = ticking
    committee(ctx)
    for n in range(ROUNDS):
        ref = distributed(ctx, title=f"Round {n}", at=T0 + timedelta(hours=n))
        for m in MEMBERS[:-last]:
            record_assertion(ctx, ref, m, "affirmative", channel="email", evidence_key=f"{ref}:{m}", actor="email")
        results = at_once(ctx, ref, MEMBERS[-last:])
        assert [r for r in results if isinstance(r, Exception)] == []

        v = current_version(ctx.engine, ref)
        (p,) = rows(ctx.engine, Proposal, Proposal.ref == ref)
        records = rows(ctx.engine, AssertionRecord, AssertionRecord.version_id == v.id)
        assert len(records) == len(MEMBERS)
        completing = max(r.at for r in records)
        assert (p.status, v.status, v.basis) == ("adopted", "adopted", "unanimous"), f"round {n}"
        # Adopted at the instant of the completing assertion, not at a later sweep.
        assert v.adopted_at == completing, f"round {n}"
        (d,) = rows(ctx.engine, Decision, Decision.version_id == v.id)
        assert d.adopted_at == completing
        # The adoption notices went into the outbox once each: one per member, no more.
        adoption = [m for m in outbox(ctx.engine, "adoption") if m.proposal_id == p.id]
        assert sorted(m.recipient for m in adoption) == sorted(MEMBERS)
