"""Two workers at once on PostgreSQL (SQLite serialises every write transaction already).

Each test holds the audit chain's advisory lock from a side connection, so both workers
get as far as they can, block, and are then released together: the interleaving that
breaks a check-then-write service happens every time, not by luck.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import text

from jcbot.core.errors import RosterError
from jcbot.services import proposals, roster, sweep
from jcbot.services.assertions import record_assertion
from jcbot.store.audit import _CHAIN_LOCK_KEY
from jcbot.store.db import init_db, make_engine
from jcbot.store.models import AssertionRecord, Decision, Member

from .helpers import ITEMS, MN_DEADLINE, SECRETARIAT, T0, committee, distributed, new_context, rows, tick, variant

pytestmark = pytest.mark.postgres


@pytest.fixture
def ctx(postgres_server, tmp_path):
    from jcbot.clock import ManualClock

    engine = make_engine(postgres_server.url(postgres_server.create_database()))
    init_db(engine)
    yield new_context(engine, ManualClock(T0 - timedelta(days=7)), tmp_path)
    engine.dispose()


def race(ctx, *calls: Callable[[], object]) -> list[object]:
    """Run `calls` in threads released together at the audit append; results or exceptions."""
    results: list[object] = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        try:
            results[i] = call()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            results[i] = exc

    with ctx.engine.connect() as side:
        side.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _CHAIN_LOCK_KEY})
        side.commit()
        threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # until every worker waits on a lock
            waiting = side.execute(text("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")).scalar_one()
            side.commit()
            if waiting >= len(calls):
                break
            time.sleep(0.05)
        side.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _CHAIN_LOCK_KEY})
        side.commit()
        for t in threads:
            t.join(30)
    return results


def test_two_sweeps_at_once_adopt_once(ctx):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    for m in ("tanaka", "bat"):
        record_assertion(ctx, ref, m, "affirmative", channel="email", evidence_key=m, actor="email")
    ctx.clock.set(MN_DEADLINE + timedelta(days=1))
    results = race(ctx, lambda: sweep.sweep(ctx), lambda: sweep.sweep(ctx))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(len(r.changed) for r in results) == [0, 1]
    (d,) = rows(ctx.engine, Decision)
    assert (d.number, d.adopted_at, [i["reference"] for i in d.items]) == ("MN-2026-001", MN_DEADLINE, ["MN_AM001", "MN001"])


def test_the_same_evidence_at_once_is_recorded_once(ctx):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    again = lambda: record_assertion(ctx, ref, "sato", "affirmative", channel="email",  # noqa: E731
                                     evidence_key="<same@mail.example>", actor="email")
    results = race(ctx, again, again)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.duplicate for r in results) == [False, True]
    assert len(rows(ctx.engine, AssertionRecord)) == 1


def test_an_assertion_and_a_sweep_at_once_adopt_once(ctx):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    for m in ("tanaka", "bat"):
        record_assertion(ctx, ref, m, "affirmative", channel="email", evidence_key=m, actor="email")
    ctx.clock.set(MN_DEADLINE + timedelta(days=1))
    late = lambda: record_assertion(ctx, ref, "sato", "affirmative", channel="email",  # noqa: E731
                                    evidence_key="late", actor="email")
    results = race(ctx, late, lambda: sweep.sweep(ctx))
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(rows(ctx.engine, Decision)) == 1


def test_two_first_drafts_at_once_get_two_numbers(ctx):
    committee(ctx)
    draft = lambda: proposals.draft(ctx, "japan-mongolia", "P", "Text.", ITEMS, SECRETARIAT)  # noqa: E731
    results = race(ctx, draft, draft)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(r.ref for r in results) == ["MN-P-2026-001", "MN-P-2026-002"]


def test_the_cap_holds_when_two_members_are_designated_at_once(ctx):
    committee(ctx, japan=("a",), host=(), cochairs=(), alternates=(),
              text_=variant("japan-mongolia", **{"max_members_per_government: 10": "max_members_per_government: 2"}))
    add = lambda h: (lambda: roster.add_member(ctx, "japan-mongolia", h, "japan", SECRETARIAT))  # noqa: E731
    results = race(ctx, add("b"), add("c"))
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], RosterError) and "the cap is 2" in str(errors[0])
    assert len(rows(ctx.engine, Member)) == 2
    # The committee's roster still loads (a third member in the log would break every replay).
    roster.remove_member(ctx, "japan-mongolia", "a", SECRETARIAT)


def test_a_departure_and_an_assertion_at_once(ctx):
    # The departure completes unanimity (suzuki was the only one awaited) while tanaka
    # asserts again on the same proposal: both must finish, the proposal adopted once.
    committee(ctx)
    ref = distributed(ctx)
    for m in ("tanaka", "sato", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        record_assertion(ctx, ref, m, "affirmative", channel="email", evidence_key=m, actor="email")
    tick(ctx.clock)
    leave = lambda: roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)  # noqa: E731
    again = lambda: record_assertion(ctx, ref, "tanaka", "affirmative", channel="slack",  # noqa: E731
                                     evidence_key="again", actor="slack")
    results = race(ctx, leave, again)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert len(rows(ctx.engine, Decision)) == 1
