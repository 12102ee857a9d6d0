"""jcbot.services.sweep: the sweep records adoptions at the core's instant; pending; next deadline."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jcbot.services import proposals, queries, sweep
from jcbot.services.assertions import record_assertion
from jcbot.store.models import Decision

from .helpers import (MN_DEADLINE, SECRETARIAT, T0, audit_actions, committee, counts, current_version,
                      distributed, recipients, rows, tick, variant)
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

ALL = ["bat", "dorj", "sato", "suzuki", "tanaka", "tsetseg"]


def _assert(ctx, ref, member, position="affirmative", opinion=None):
    return record_assertion(ctx, ref, member, position, channel="email", opinion=opinion,
                            evidence_key=f"<{member}.{ctx.clock.now().timestamp()}@x>", actor=f"email:{member}")


def _version(engine, ref):
    return current_version(engine, ref)


def test_no_objection_is_adopted_at_the_deadline_however_late_the_sweep(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    ctx.clock.set(T0 + timedelta(days=1))
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "dorj")  # the host seat, through bat's alternate
    ctx.clock.set(MN_DEADLINE - timedelta(seconds=1))
    assert sweep.sweep(ctx).changed == []  # not yet
    # jcbot was down for half a year: adopted at the deadline, not at the restart.
    ctx.clock.set(MN_DEADLINE + timedelta(days=180))
    result = sweep.sweep(ctx)
    assert (result.examined, result.changed) == (1, [(ref, "adopted")])
    v = _version(engine, ref)
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", MN_DEADLINE)
    (d,) = rows(engine, Decision)
    assert (d.number, d.adopted_at, d.basis) == ("MN-2026-001", MN_DEADLINE, "no_objection")
    assert [i["reference"] for i in d.items] == ["MN_AM001", "MN001"]
    assert recipients(engine, "adoption") == ALL
    adopted = [e for e in audit_actions(engine) if e == "proposal.adopted"]
    assert adopted == ["proposal.adopted"]
    # A second sweep (or one on another machine) changes nothing at all.
    before = counts(engine)
    ctx.clock.advance(timedelta(days=1))
    assert sweep.sweep(ctx) == sweep.SweepResult(0, [])
    assert counts(engine) == before


def test_the_sweep_leaves_an_objected_proposal_objected(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "bat")
    _assert(ctx, ref, "suzuki", "negative", "No.")
    ctx.clock.set(MN_DEADLINE + timedelta(days=3))
    before = counts(engine)
    assert sweep.sweep(ctx) == sweep.SweepResult(1, [])
    assert counts(engine) == before
    assert _version(engine, ref).status == "objected"
    assert [v.proposal.ref for v in queries.pending(ctx)] == [ref]


def test_a_cochair_affirming_after_the_period_adopts_at_that_assertion(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    ctx.clock.set(MN_DEADLINE + timedelta(days=1))
    assert sweep.sweep(ctx).changed == []  # open: awaiting the host seat
    view = queries.pending(ctx)[0]
    assert view.verdict.status == "open" and view.verdict.seat_positions == {"japan": "affirmative", "host": None}
    assert view.days_left(ctx.clock.now()) == -1.0
    ctx.clock.set(T0 + timedelta(days=25))
    r = _assert(ctx, ref, "bat")
    assert (r.status, r.verdict.basis, r.verdict.adopted_at) == ("adopted", "no_objection", T0 + timedelta(days=25))
    assert sweep.sweep(ctx) == sweep.SweepResult(0, [])


def test_must_affirm_within_the_period_lapses_at_the_deadline(ctx, engine):
    committee(ctx, text_=variant("japan-mongolia", **{"cochairs_must_affirm_within_period: false":
                                                      "cochairs_must_affirm_within_period: true"}))
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    ctx.clock.set(MN_DEADLINE + timedelta(days=2))
    assert sweep.sweep(ctx).changed == [(ref, "lapsed")]
    v = _version(engine, ref)
    assert (v.status, v.lapsed_at) == ("lapsed", MN_DEADLINE)
    assert recipients(engine, "lapse") == ["bat", "dorj", "sato", "tanaka"]
    assert rows(engine, Decision) == []


def test_one_sweep_settles_every_committee(ctx, engine):
    committee(ctx)
    committee(ctx, "japan-kenya", text_=variant("default", **{"code: JC": "code: KE", "timezone: UTC": "timezone: Africa/Nairobi"}),
              japan=("abe",), host=("otieno",), cochairs=("abe", "otieno"), alternates=())
    mn = distributed(ctx)
    ke = distributed(ctx, "japan-kenya", at=T0 + timedelta(hours=1))
    mn2 = distributed(ctx, at=T0 + timedelta(hours=2))
    tick(ctx.clock)
    for ref, members in ((mn, ("tanaka", "bat")), (ke, ("abe", "otieno")), (mn2, ("tanaka",))):
        for m in members:
            _assert(ctx, ref, m)
    # abe and otieno are the whole Kenyan electorate: unanimous at once.
    assert _version(engine, ke).status == "adopted"
    ctx.clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    result = sweep.sweep(ctx)
    assert (result.examined, result.changed) == (2, [(mn, "adopted")])
    assert sorted(d.number for d in rows(engine, Decision)) == ["KE-2026-001", "MN-2026-001"]
    assert [v.proposal.ref for v in queries.pending(ctx, "japan-mongolia")] == [mn2]
    assert queries.pending(ctx, "japan-kenya") == []


def test_pending_and_next_change(ctx, engine):
    committee(ctx)
    assert queries.next_change(ctx) is None
    first = distributed(ctx)
    second = distributed(ctx, at=T0 + timedelta(days=2))
    draft = proposals.draft(ctx, "japan-mongolia", "Draft", "Text.", [proposals.Item("other", "x")], SECRETARIAT).ref
    views = queries.pending(ctx)
    assert [v.proposal.ref for v in views] == [first, second]  # soonest deadline first; drafts are not pending
    assert draft not in [v.proposal.ref for v in views]
    assert views[0].verdict.awaiting == ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")
    assert queries.next_change(ctx) == MN_DEADLINE
    ctx.clock.set(MN_DEADLINE)  # the deadline itself is no longer ahead
    assert queries.next_change(ctx) == MN_DEADLINE + timedelta(days=2)


def test_a_routine_sweep_judges_what_the_core_said_can_change_and_then_leaves_it(ctx, engine):
    # The core names when time alone can next change a verdict (its deadline here); the
    # routine sweep looks at exactly those versions, records the new "next change" even
    # when the status stays (objected stays objected), and then stops looking at them.
    committee(ctx)
    objected = distributed(ctx, title="Objected")
    quiet = distributed(ctx, title="Later", at=T0 + timedelta(days=2))
    tick(ctx.clock)
    _assert(ctx, objected, "suzuki", "negative", "No.")
    assert _version(engine, objected).next_change_at == MN_DEADLINE
    assert _version(engine, quiet).next_change_at == MN_DEADLINE + timedelta(days=2)
    ctx.clock.set(MN_DEADLINE - timedelta(seconds=1))
    assert sweep.sweep(ctx).examined == 0
    assert queries.next_change(ctx) == MN_DEADLINE
    ctx.clock.set(MN_DEADLINE)
    assert sweep.sweep(ctx) == sweep.SweepResult(1, [])
    v = _version(engine, objected)
    assert (v.status, v.next_change_at) == ("objected", None)  # time alone changes nothing more
    assert sweep.sweep(ctx).examined == 0
    assert queries.next_change(ctx) == MN_DEADLINE + timedelta(days=2)
    # A full sweep (the CLI's `jcbot evaluate`) still examines every open proposal.
    assert sweep.sweep(ctx, full=True).examined == 2


def test_an_adoption_of_orm_facts_leaves_the_session_reading_what_it_wrote(ctx, engine):
    """The adoption is written by Core statements: instances the session held before read the new state."""
    from sqlmodel import select

    from jcbot.services.evaluation import gather, settle, verdict_of
    from jcbot.store.audit import AuditEvent
    from jcbot.store.models import Committee, Proposal, ProposalItem, ProposalVersion

    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "dorj")
    ctx.clock.set(MN_DEADLINE + timedelta(hours=1))
    with ctx.tx("test") as tx:
        s = tx.session
        p = s.exec(select(Proposal).where(Proposal.ref == ref)).one()
        c = s.get(Committee, p.committee_id)
        v = s.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id)).one()
        items = s.exec(select(ProposalItem).where(ProposalItem.version_id == v.id)
                       .order_by(ProposalItem.position)).all()
        assert [i.reference for i in items] == [None, None]
        facts = gather(s, c, p, v)
        assert settle(tx, facts, verdict_of(facts, tx.now)) == "adopted"
        # The very instances read before: reloaded, not stale.
        assert (v.status, v.basis, v.adopted_at, p.status) == ("adopted", "no_objection", MN_DEADLINE, "adopted")
        assert [i.reference for i in items] == ["MN_AM001", "MN001"]
        (d,) = s.exec(select(Decision)).all()
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "proposal.adopted")).one()
        assert d.audit_hash == ev.hash and ev.data_value()["decision"] == d.number == "MN-2026-001"
    assert _version(engine, ref).status == "adopted"
