"""jcbot.services.proposals: draft, distribute (frozen electorate), withdraw, refer, revise."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.core.errors import AssertionRefused, DistributionRefused, ProcedureError
from jcbot.services import proposals, queries, roster, sweep
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.store.models import AssertionRecord, Proposal, ProposalItem, ProposalVersion

from .helpers import (ITEMS, MN_DEADLINE, SECRETARIAT, T0, audit_actions, committee, counts, distributed,
                      outbox, recipients, rows, tick)
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

ALL = ["bat", "dorj", "sato", "suzuki", "tanaka", "tsetseg"]


def _version(engine, ref, number):
    p = rows(engine, Proposal, Proposal.ref == ref)[0]
    return rows(engine, ProposalVersion, ProposalVersion.proposal_id == p.id, ProposalVersion.version == number)[0]


def _assert(ctx, ref, member, position="affirmative", **kw):
    kw.setdefault("evidence_key", f"test:{member}:{ctx.clock.now().isoformat()}")
    kw.setdefault("channel", "email")
    return record_assertion(ctx, ref, member, position, actor=f"email:{member}", **kw)


@pytest.mark.parametrize("title, text, items, match", [
    ("Approve", "Text.", [], "at least one item"),
    ("Approve", "Text.", [proposals.Item("methodology", "AM")], "kind must be one of methodology_approval"),
    ("Approve", "Text.", [proposals.Item("other", "  ")], "an item needs a title"),
    ("  ", "Text.", ITEMS, "needs a title and a text"),
    ("Approve", "", ITEMS, "needs a title and a text"),
])
def test_bad_drafts_are_refused_and_no_number_is_used(ctx, engine, title, text, items, match):
    committee(ctx)
    before = counts(engine)
    with pytest.raises(ServiceError, match=match):
        proposals.draft(ctx, "japan-mongolia", title, text, items, SECRETARIAT)
    assert counts(engine) == before
    assert proposals.draft(ctx, "japan-mongolia", "Approve", "Text.", ITEMS, SECRETARIAT).ref == "MN-P-2026-001"


def test_a_draft_bundles_items_and_is_numbered(ctx, engine):
    committee(ctx)
    refs = [proposals.draft(ctx, "japan-mongolia", f"P{i}", "Text.", ITEMS, SECRETARIAT).ref for i in range(3)]
    assert refs == ["MN-P-2026-001", "MN-P-2026-002", "MN-P-2026-003"]
    v = _version(engine, refs[0], 1)
    assert (v.status, v.distributed_at, v.deadline) == ("draft", None, None)
    items = rows(engine, ProposalItem, ProposalItem.version_id == v.id)
    assert [(i.position, i.kind, i.reference) for i in items] == [
        (1, "methodology_approval", None), (2, "project_registration", None)]
    assert outbox(engine, channel=None) == []  # a draft tells nobody
    with pytest.raises(ServiceError, match="has not been distributed"):
        _assert(ctx, refs[0], "tanaka")


def test_distribution_is_refused_while_a_seat_is_vacant(ctx, engine):
    committee(ctx, cochairs=("tanaka",), alternates=())
    ref = proposals.draft(ctx, "japan-mongolia", "P", "Text.", ITEMS, SECRETARIAT).ref
    before = counts(engine)
    with pytest.raises(DistributionRefused, match="cannot distribute: the host co-chair seat is vacant; "
                                                  "record a co-chair election first"):
        proposals.distribute(ctx, ref, SECRETARIAT)
    assert counts(engine) == before
    roster.elect_cochair(ctx, "japan-mongolia", "host", "bat", SECRETARIAT)
    tick(ctx.clock)
    roster.remove_member(ctx, "japan-mongolia", "tanaka", SECRETARIAT)  # the japan seat falls vacant
    before = counts(engine)
    with pytest.raises(DistributionRefused, match="the japan co-chair seat is vacant"):
        proposals.distribute(ctx, ref, SECRETARIAT)
    assert counts(engine) == before
    assert _version(engine, ref, 1).status == "draft"


def test_distribution_freezes_electorate_and_deadline_and_tells_every_member(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    v = _version(engine, ref, 1)
    assert (v.status, v.distributed_at, v.deadline, v.distributed_by) == (
        "open", T0, MN_DEADLINE, "secretariat on behalf of the co-chairs")
    assert v.electorate == ["tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"]
    assert recipients(engine, "distribution") == ALL
    assert recipients(engine, "distribution", "slack") == ALL
    first = outbox(engine, "distribution")[0]
    assert first.dedupe_key == f"email:distribution:{v.id}:tanaka"
    data = first.payload["data"]
    assert data["proposal"]["ref"] == ref and data["proposal"]["deadline"] == MN_DEADLINE.isoformat()
    assert [i["kind"] for i in data["proposal"]["items"]] == ["methodology_approval", "project_registration"]
    assert audit_actions(engine)[-1] == "proposal.distributed"
    before = counts(engine)
    with pytest.raises(ServiceError, match="already distributed"):
        proposals.distribute(ctx, ref, SECRETARIAT)
    assert counts(engine) == before


def test_who_may_distribute(ctx, engine):
    committee(ctx)
    ref = proposals.draft(ctx, "japan-mongolia", "P", "Text.", ITEMS, SECRETARIAT).ref
    before = counts(engine)
    with pytest.raises(ProcedureError, match="suzuki is neither a co-chair nor an active alternate"):
        proposals.distribute(ctx, ref, SECRETARIAT, by="suzuki")
    assert counts(engine) == before
    proposals.distribute(ctx, ref, SECRETARIAT, by="dorj")  # bat's alternate
    assert _version(engine, ref, 1).distributed_by == "dorj"


def test_the_electorate_is_frozen_at_distribution(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT, email="kato@example.jp")
    tick(ctx.clock)
    before = counts(engine)
    with pytest.raises(AssertionRefused, match="kato was not a member of the JC when it was distributed"):
        _assert(ctx, ref, "kato")
    assert counts(engine) == before
    # ... and unanimity needs only the electorate.
    for m in ALL:
        r = _assert(ctx, ref, m)
    assert r.status == "adopted"


def test_withdraw(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock, 60)
    with pytest.raises(ProcedureError, match="suzuki is neither a co-chair"):
        proposals.withdraw(ctx, ref, SECRETARIAT, by="suzuki")
    proposals.withdraw(ctx, ref, SECRETARIAT, by="tanaka", note="superseded by a new methodology")
    v = _version(engine, ref, 1)
    assert (v.status, v.closed_as, v.closed_at, v.closed_note) == (
        "withdrawn", "withdrawn", ctx.clock.now(), "superseded by a new methodology")
    assert rows(engine, Proposal)[0].status == "withdrawn"
    assert recipients(engine, "withdrawn") == ALL
    assert [m.recipient for m in outbox(engine, "announce_withdrawn", "slack")] == ["#committee"]
    assert audit_actions(engine)[-2:] == ["proposal.status", "proposal.withdrawn"]
    before = counts(engine)
    with pytest.raises(ServiceError, match=f"{ref} version 1 is withdrawn; nothing was recorded"):
        _assert(ctx, ref, "tanaka")
    with pytest.raises(ServiceError, match=f"{ref} is withdrawn; only an open or objected proposal can be changed"):
        proposals.refer(ctx, ref, SECRETARIAT)
    assert counts(engine) == before


def test_refer_an_objected_proposal(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    assert _assert(ctx, ref, "suzuki", "negative", opinion="The baseline is too high.").status == "objected"
    tick(ctx.clock)
    proposals.refer(ctx, ref, SECRETARIAT, note="to the 4th Joint Committee")
    assert _version(engine, ref, 1).status == "referred"
    assert recipients(engine, "referred") == ALL
    assert outbox(engine, "referred")[0].payload["data"]["note"] == "to the 4th Joint Committee"
    # Referred is not pending; a sweep leaves it alone.
    assert queries.pending(ctx) == []
    ctx.clock.set(MN_DEADLINE + timedelta(days=30))
    assert sweep.sweep(ctx).changed == []


def test_revise_supersedes_and_redistributes_with_a_new_electorate_and_deadline(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "suzuki", "negative", opinion="Item 2 lacks a monitoring plan.")
    ctx.clock.set(T0 + timedelta(days=2))
    roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT, email="kato@example.jp")
    ctx.clock.set(T0 + timedelta(days=3))
    new_items = ITEMS + [proposals.Item("tpe_designation", "Designate TPE X")]
    v2 = proposals.revise(ctx, ref, SECRETARIAT, text="Revised text.", items=new_items, by="bat")
    old, new = _version(engine, ref, 1), _version(engine, ref, 2)
    assert (old.status, old.closed_as, old.closed_at) == ("superseded", "superseded", ctx.clock.now())
    assert (new.version, new.status, new.text, new.title) == (2, "open", "Revised text.", old.title)
    assert new.id == v2.id and new.distributed_at == ctx.clock.now()
    assert new.electorate == ["tanaka", "sato", "bat", "dorj", "tsetseg", "kato"]
    assert new.deadline == MN_DEADLINE + timedelta(days=3)  # day 0 is 6 March now
    assert len(rows(engine, ProposalItem, ProposalItem.version_id == new.id)) == 3
    assert rows(engine, Proposal)[0].current_version == 2
    # Members of the new electorate are told about version 2.
    assert sorted(m.recipient for m in outbox(engine, "distribution") if f":{new.id}:" in m.dedupe_key) == \
        sorted(["tanaka", "sato", "bat", "dorj", "tsetseg", "kato"])
    # The old version's assertions stay with it; version 2 starts afresh.
    view = queries.show(ctx, ref)
    assert view.assertions == () and view.verdict.awaiting == tuple(new.electorate)
    assert len(rows(engine, AssertionRecord, AssertionRecord.version_id == old.id)) == 2
    # An assertion made on version 1 (a late reply to its email) is refused with its state.
    before = counts(engine)
    with pytest.raises(ServiceError, match=f"{ref} version 1 was superseded by version 2; version 2 is open now"):
        _assert(ctx, ref, "sato", version=1)
    assert counts(engine) == before
    assert _assert(ctx, ref, "kato", version=2).status == "open"
    assert audit_actions(engine).count("proposal.revised") == 1


def test_revise_without_redistribution_keeps_a_draft(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    proposals.revise(ctx, ref, SECRETARIAT, title="Approve MN_AM001 only", items=ITEMS[:1], redistribute=False)
    assert _version(engine, ref, 1).status == "superseded"
    assert _version(engine, ref, 2).status == "draft"
    with pytest.raises(ServiceError, match="has not been distributed yet"):
        _assert(ctx, ref, "tanaka")
    tick(ctx.clock)
    proposals.distribute(ctx, ref, SECRETARIAT)
    assert _version(engine, ref, 2).status == "open"


def test_an_adopted_proposal_cannot_be_withdrawn_or_revised(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    for m in ALL:
        tick(ctx.clock)
        _assert(ctx, ref, m)
    before = counts(engine)
    for call in (proposals.withdraw, proposals.refer, proposals.revise):
        with pytest.raises(ServiceError, match=f"{ref} is adopted; only an open or objected proposal can be changed"):
            call(ctx, ref, SECRETARIAT)
    assert counts(engine) == before


def test_withdraw_after_an_unrecorded_adoption_is_refused(ctx, engine):
    # The deadline passed with both seats affirmative but no sweep ran yet: the
    # proposal was adopted at the deadline, so the co-chairs can no longer withdraw it.
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "bat")
    ctx.clock.set(MN_DEADLINE + timedelta(hours=1))
    with pytest.raises(ServiceError, match="is adopted"):
        proposals.withdraw(ctx, ref, SECRETARIAT)
    assert sweep.sweep(ctx).changed == [(ref, "adopted")]
    assert _version(engine, ref, 1).adopted_at == MN_DEADLINE
