"""jcbot.services.cases: the project cycle's cases, each step one transaction judged by the cycle core first."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.services import cases, proposals
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.services.documents import Upload
from jcbot.services.meetings import MeetingDecision, record_meeting
from jcbot.services.roster import add_secretariat
from jcbot.store.cases import Case, CaseEvent, CaseItem
from jcbot.store.models import Decision

from support.documents import pdf

from .helpers import SECRETARIAT, audit_actions, committee, counts, outbox, rows, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

SLUG = "japan-mongolia"
MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")


def _setup(ctx):
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")


def _doc(name="methodology.pdf", visibility="public", salt=b""):
    return Upload(name, pdf(text=f"{name} {salt!r}"), visibility)


def _unanimous(ctx, ref):
    for m in MEMBERS:
        tick(ctx.clock)
        record_assertion(ctx, ref, m, "affirmative", channel="slack", evidence_key=f"{ref}:{m}", actor="slack")


def _methodology_awaiting(ctx, title="Energy-efficient transformers"):
    case = cases.submit(ctx, SLUG, "methodology", title, "pp@proponent.example",
                        [_doc(salt=title.encode()), _doc("full.pdf", "confidential", title.encode() + b"c")], SECRETARIAT)
    tick(ctx.clock, 60)
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    ctx.clock.advance(timedelta(days=17))  # the 15-day public-input window has closed
    return case


def test_submit_gives_a_reference_and_a_pm_number_and_tells_everyone(ctx, engine):
    _setup(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example",
                        [_doc(), _doc("full.pdf", "confidential", b"c")], SECRETARIAT)
    assert case.ref.startswith("MN-C-") and case.ref.endswith("-001")
    info = cases.show(ctx, case.ref)
    assert info.view.state == "submitted" and info.view.number == "MN_PM001"
    assert "completeness_check" in info.view.windows
    assert [d.visibility for _, d in info.documents] == ["public", "confidential"]
    to = {n.recipient for n in outbox(engine, "case")}
    assert {"proponent", "tanaka", "bat", "sato", "dorj"} <= to and any(r.startswith("secretariat:") for r in to)
    assert "case.submitted" in audit_actions(engine)
    second = cases.submit(ctx, SLUG, "methodology", "Boilers", "pp@proponent.example", [], SECRETARIAT)
    assert cases.show(ctx, second.ref).view.number == "MN_PM002"


def test_a_refused_event_changes_nothing(ctx, engine):
    _setup(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Transformers", "pp@proponent.example", [], SECRETARIAT)
    before = counts(engine)
    with pytest.raises(ServiceError, match="check refused: an incomplete check needs its reason"):
        cases.check(ctx, case.ref, False, " ", SECRETARIAT)
    with pytest.raises(ServiceError, match="pdd_published refused: pdd_published is not allowed for a methodology"):
        cases.record(ctx, case.ref, "pdd-published", [_doc()], SECRETARIAT)
    with pytest.raises(ServiceError, match="not allowed for a methodology in state submitted"):
        cases.propose(ctx, [case.ref], SECRETARIAT)
    with pytest.raises(ServiceError, match="no case"):
        cases.check(ctx, "MN-C-2026-999", True, None, SECRETARIAT)
    assert counts(engine) == before


def test_incomplete_returns_it_and_a_resubmission_starts_a_new_check(ctx, engine):
    _setup(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Transformers", "pp@proponent.example", [], SECRETARIAT)
    view = cases.check(ctx, case.ref, False, "the monitoring plan is missing", SECRETARIAT)
    assert view.state == "returned"
    mail = [n for n in outbox(engine, "case") if n.recipient == "proponent"][-1]
    assert "the monitoring plan is missing" in mail.payload["data"]["lines"]
    tick(ctx.clock)
    cases.record(ctx, case.ref, "resubmitted", [_doc("plan.pdf", salt=b"plan")], SECRETARIAT)
    assert cases.show(ctx, case.ref).view.state == "submitted"


def test_adoption_by_email_approves_with_the_decisions_am_number(ctx, engine):
    _setup(ctx)
    a = _methodology_awaiting(ctx)
    b = _methodology_awaiting(ctx, "Boilers")
    assert cases.show(ctx, a.ref).view.state == "awaiting_decision"
    p = cases.propose(ctx, [a.ref, b.ref], SECRETARIAT)
    links = rows(engine, CaseItem)
    assert [(link.position, link.outcome) for link in links] == [(1, "approve"), (2, "approve")]
    tick(ctx.clock)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    assert cases.show(ctx, a.ref).view.proposal == p.ref
    _unanimous(ctx, p.ref)
    [decision] = rows(engine, Decision)
    refs = [i["reference"] for i in decision.items]
    assert refs == ["MN_AM001", "MN_AM002"]
    for case, number in ((a, "MN_AM001"), (b, "MN_AM002")):
        view = cases.show(ctx, case.ref).view
        assert (view.state, view.number) == ("approved", number)
        assert rows(engine, Case, Case.ref == case.ref)[0].state == "approved"
    assert any(n.payload["key"].startswith(f"case:{a.ref}:decided:") for n in outbox(engine, "case"))


def test_the_proposal_carries_the_cases_documents_bound_to_their_items(ctx, engine):
    from jcbot.services.documents import of_version
    from .helpers import current_version

    _setup(ctx)
    a = _methodology_awaiting(ctx)
    p = cases.propose(ctx, [a.ref], SECRETARIAT)
    from jcbot.store.db import session_scope

    with session_scope(engine) as s:
        of_version_docs = of_version(s, current_version(engine, p.ref).id)
    docs = [(d.name, d.items, d.visibility) for d in of_version_docs]
    assert docs == [(f"{a.ref}-methodology.pdf", (1,), "public"), (f"{a.ref}-full.pdf", (1,), "confidential")]
    v = current_version(engine, p.ref)
    assert of_version_docs[0].sha256 in v.text


def test_rejection_gives_no_number_and_a_case_is_proposed_once(ctx, engine):
    _setup(ctx)
    a = _methodology_awaiting(ctx)
    p = cases.propose(ctx, [a.ref], SECRETARIAT, outcome="reject")
    with pytest.raises(ServiceError, match="already carried by"):
        cases.propose(ctx, [a.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    _unanimous(ctx, p.ref)
    view = cases.show(ctx, a.ref).view
    assert (view.state, view.number) == ("rejected", "MN_PM001")
    [decision] = rows(engine, Decision)
    assert decision.items[0]["reference"] == "MN_PM001"


def test_withdrawal_leaves_it_awaiting_and_a_new_proposal_carries_it(ctx, engine):
    _setup(ctx)
    a = _methodology_awaiting(ctx)
    p = cases.propose(ctx, [a.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    tick(ctx.clock)
    proposals.withdraw(ctx, p.ref, SECRETARIAT, note="another day")
    view = cases.show(ctx, a.ref).view
    assert (view.state, view.proposal) == ("awaiting_decision", None)
    assert [e.kind for e in rows(engine, CaseEvent, CaseEvent.case_id == a.id)][-1] == "proposal_withdrawn"
    q = cases.propose(ctx, [a.ref], SECRETARIAT)
    proposals.distribute(ctx, q.ref, SECRETARIAT)
    _unanimous(ctx, q.ref)
    assert cases.show(ctx, a.ref).view.number == "MN_AM001"


def test_a_meeting_adopting_a_referred_proposal_advances_its_cases(ctx, engine):
    _setup(ctx)
    a = _methodology_awaiting(ctx)
    p = cases.propose(ctx, [a.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    tick(ctx.clock)
    proposals.refer(ctx, p.ref, SECRETARIAT)
    assert cases.show(ctx, a.ref).view.state == "awaiting_decision"
    ctx.clock.advance(timedelta(days=2))
    held = ctx.clock.now().date() - timedelta(days=1)
    from jcbot.services.queries import show

    # The items as the CLI's --adopt copies them.
    items = [proposals.Item(i["kind"], i["title"], i["reference"]) for i in show(ctx, p.ref).items]
    record_meeting(ctx, SLUG, "3rd Joint Committee", held, "Ulaanbaatar",
                   [MeetingDecision("Approve", "Decided.", items, p.ref)], SECRETARIAT)
    view = cases.show(ctx, a.ref).view
    assert (view.state, view.number) == ("approved", "MN_AM001")


def test_project_registration_then_issuance_notifies_each_registry(ctx, engine):
    _setup(ctx)
    cases.set_registry(ctx, SLUG, "japan", "registry@jp.example", "http://127.0.0.1:9/notify", SECRETARIAT)
    cases.set_registry(ctx, SLUG, "host", "registry@mn.example", None, SECRETARIAT)
    proj = cases.submit(ctx, SLUG, "project", "Solar power in Darkhan", "tpe@tpe.example", [], SECRETARIAT)
    tick(ctx.clock)
    cases.record(ctx, proj.ref, "pdd-published", [_doc("pdd.pdf", salt=b"pdd")], SECRETARIAT)
    with pytest.raises(ServiceError, match="validation_report is not allowed"):
        cases.record(ctx, proj.ref, "validation-report", [], SECRETARIAT)
    ctx.clock.advance(timedelta(days=32))
    cases.record(ctx, proj.ref, "validation-report", [_doc("vr.pdf", salt=b"vr")], SECRETARIAT)
    cases.record(ctx, proj.ref, "registration-requested", [], SECRETARIAT)
    cases.check(ctx, proj.ref, True, None, SECRETARIAT)
    p = cases.propose(ctx, [proj.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    _unanimous(ctx, p.ref)
    assert cases.show(ctx, proj.ref).view.number == "MN001"
    before = counts(engine)
    with pytest.raises(ServiceError, match="shares add up to 900, not the amount 1000"):
        cases.record(ctx, proj.ref, "issuance-requested", [], SECRETARIAT, amount=1000, shares={"japan": 500, "host": 400})
    assert counts(engine) == before
    iss = cases.record(ctx, proj.ref, "issuance-requested", [], SECRETARIAT, amount=1000,
                       shares={"japan": 600, "host": 400}, period="2026-01-01/2026-06-30")
    assert iss.kind == "issuance" and cases.show(ctx, iss.ref).view.number == "MN001"
    with pytest.raises(ServiceError, match="still issuance_requested"):
        cases.record(ctx, proj.ref, "issuance-requested", [], SECRETARIAT, amount=1, shares={"japan": 1})
    cases.check(ctx, iss.ref, True, None, SECRETARIAT)
    q = cases.propose(ctx, [iss.ref], SECRETARIAT)
    proposals.distribute(ctx, q.ref, SECRETARIAT)
    _unanimous(ctx, q.ref)
    assert cases.show(ctx, iss.ref).view.state == "notified"
    mails = outbox(engine, "registry_notification")
    assert sorted(m.address for m in mails) == ["registry@jp.example", "registry@mn.example"]
    body = {m.address: m.payload["data"]["notification"] for m in mails}
    assert body["registry@jp.example"]["amount"] == 600 and body["registry@mn.example"]["amount"] == 400
    assert body["registry@jp.example"]["project"] == "MN001"
    assert body["registry@jp.example"]["period"] == "2026-01-01/2026-06-30"
    [dec] = [d for d in rows(engine, Decision) if d.number == body["registry@jp.example"]["decision"]]
    assert body["registry@jp.example"]["audit_hash"] == dec.audit_hash


def test_a_tpe_awaits_once_distributed_and_is_designated(ctx, engine):
    _setup(ctx)
    tpe = cases.submit(ctx, SLUG, "tpe", "Verifiers Ltd", "tpe@tpe.example", [], SECRETARIAT)
    p = cases.propose(ctx, [tpe.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    assert cases.show(ctx, tpe.ref).view.state == "awaiting_decision"
    _unanimous(ctx, p.ref)
    assert cases.show(ctx, tpe.ref).view.state == "designated"
    assert [c.ref for c, _ in cases.list_cases(ctx, SLUG)] == [tpe.ref]


def test_registry_set_refuses_a_bad_address(ctx, engine):
    _setup(ctx)
    with pytest.raises(ServiceError, match="--email"):
        cases.set_registry(ctx, SLUG, "japan", "nobody", None, SECRETARIAT)
    with pytest.raises(ServiceError, match="government"):
        cases.set_registry(ctx, SLUG, "korea", "r@kr.example", None, SECRETARIAT)


def test_a_pins_no_objection_gives_its_pin_number_then_the_project_goes_on(ctx, engine):
    _setup(ctx)
    proj = cases.submit(ctx, SLUG, "project", "Solar power in Darkhan", "tpe@tpe.example", [], SECRETARIAT)
    assert proj.state == "pin"
    tick(ctx.clock)
    before = counts(engine)
    with pytest.raises(ServiceError, match="cannot be decided approve_with_revisions"):
        cases.propose(ctx, [proj.ref], SECRETARIAT, "approve_with_revisions")
    assert counts(engine) == before
    p = cases.propose(ctx, [proj.ref], SECRETARIAT)
    before = counts(engine)
    with pytest.raises(ServiceError, match="already carried by"):
        cases.propose(ctx, [proj.ref], SECRETARIAT)
    assert counts(engine) == before
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    _unanimous(ctx, p.ref)
    view = cases.show(ctx, proj.ref).view
    assert (view.state, view.number, view.numbers) == ("pin", "MN_PIN001", ("MN_PIN001",))
    [dec] = rows(engine, Decision)
    assert [(i["kind"], i["reference"]) for i in dec.items] == [("pin_no_objection", "MN_PIN001")]
    assert dec.items[0]["title"].startswith("No objection to the planned project (PIN) Solar power in Darkhan")
    # Decided once: a second PIN proposal is refused and changes nothing.
    tick(ctx.clock)
    before = counts(engine)
    with pytest.raises(ServiceError, match="the PIN was already decided"):
        cases.propose(ctx, [proj.ref], SECRETARIAT)
    assert counts(engine) == before
    cases.record(ctx, proj.ref, "pdd-published", [_doc("pdd.pdf", salt=b"pin-pdd")], SECRETARIAT)
    assert cases.show(ctx, proj.ref).view.state == "pdd_published"
    ctx.clock.advance(timedelta(days=32))
    cases.record(ctx, proj.ref, "validation-report", [_doc("vr.pdf", salt=b"pin-vr")], SECRETARIAT)
    cases.record(ctx, proj.ref, "registration-requested", [], SECRETARIAT)
    cases.check(ctx, proj.ref, True, None, SECRETARIAT)
    q = cases.propose(ctx, [proj.ref], SECRETARIAT)
    proposals.distribute(ctx, q.ref, SECRETARIAT)
    _unanimous(ctx, q.ref)
    view = cases.show(ctx, proj.ref).view
    assert (view.state, view.number, view.numbers) == ("registered", "MN001", ("MN_PIN001", "MN001"))


def test_a_pin_rejected_gives_no_number(ctx, engine):
    _setup(ctx)
    proj = cases.submit(ctx, SLUG, "project", "Coal to gas in Erdenet", "tpe@tpe.example", [], SECRETARIAT)
    p = cases.propose(ctx, [proj.ref], SECRETARIAT, "reject")
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    _unanimous(ctx, p.ref)
    view = cases.show(ctx, proj.ref).view
    assert (view.state, view.number) == ("rejected", None)
    [dec] = rows(engine, Decision)
    assert [(i["kind"], i["reference"]) for i in dec.items] == [("pin_no_objection", proj.ref)]
