"""Verdicts from stored facts, and recording what they change (adoption, lapse, status).

The core decides; this module only gathers the facts of a version, asks
`jcbot.core.decision.evaluate`, and writes the outcome at the instant the core gives.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, select

from jcbot.core.cochairs import escalation_recipients
from jcbot.core.decision import Assertion, Closure, Distribution, Verdict, evaluate
from jcbot.core.roster import Roster
from jcbot.services import case_flow, documents, notices
from jcbot.services.context import Tx
from jcbot.services.numbering import decision_number, item_reference
from jcbot.services.roster_log import load_roster
from jcbot.store.models import AssertionRecord, Committee, Decision, Member, Proposal, ProposalItem, ProposalVersion

OPEN_STATUSES = ("open", "objected")


@dataclass(frozen=True)
class Facts:
    """Everything the core needs about one distributed version."""

    committee: Committee
    proposal: Proposal
    version: ProposalVersion
    roster: Roster
    distribution: Distribution
    assertions: tuple[Assertion, ...]
    closure: Closure | None
    items: tuple[dict, ...] = ()


def gather(session: Session, committee: Committee, proposal: Proposal, version: ProposalVersion,
           roster: Roster | None = None) -> Facts:
    """Read a distributed version's facts from the database."""
    records = session.exec(
        select(AssertionRecord).where(AssertionRecord.version_id == version.id)
        .order_by(AssertionRecord.at, AssertionRecord.id)
    ).all()
    items = tuple(
        {"kind": i.kind, "title": i.title, "reference": i.reference}
        for i in session.exec(select(ProposalItem).where(ProposalItem.version_id == version.id).order_by(ProposalItem.position))
    )
    return facts_of(committee, proposal, version, roster or load_roster(session, committee), records, items)


def facts_of(committee: Committee, proposal: Proposal, version: ProposalVersion, roster: Roster,
             records: list[AssertionRecord] | tuple[AssertionRecord, ...], items: tuple[dict, ...] = ()) -> Facts:
    """The facts of a version from rows already read (assertion records in recorded order)."""
    assert version.distributed_at is not None and version.deadline is not None
    assertions = tuple(Assertion(r.member, r.position, r.at, r.opinion, ref=str(r.id)) for r in records)  # type: ignore[arg-type]
    closure = Closure(version.closed_as, version.closed_at) if version.closed_as and version.closed_at else None  # type: ignore[arg-type]
    dist = Distribution(version.distributed_at, version.deadline, tuple(version.electorate or ()))
    return Facts(committee, proposal, version, roster, dist, assertions, closure, items)


def verdict_of(facts: Facts, now: datetime) -> Verdict:
    """The core's verdict on the facts at `now`."""
    return evaluate(facts.distribution, facts.roster, facts.assertions, now, facts.closure)


_V = ProposalVersion.__table__  # type: ignore[attr-defined]
_SET_NEXT_CHANGE = _V.update().where(_V.c.id == bindparam("version_id")).values(next_change_at=bindparam("next"))


def settle(tx: Tx, facts: Facts, verdict: Verdict) -> str | None:
    """Record what the verdict changes; returns the new status if it changed.

    The facts may hold ORM instances or, from an intake, plain rows: a status change
    writes through ORM instances of this session (loaded here for rows); the mark of
    the next change alone is one prepared UPDATE.
    """
    v = facts.version
    if verdict.status == v.status:
        if v.next_change_at != verdict.next_change:  # when the sweep must judge it again (the core says)
            if isinstance(v, ProposalVersion):
                v.next_change_at = verdict.next_change
                tx.session.add(v)
            else:
                tx.session.connection().execute(_SET_NEXT_CHANGE, {"version_id": v.id, "next": verdict.next_change})
        return None
    facts = _as_instances(tx.session, facts)
    v = facts.version
    v.next_change_at = verdict.next_change
    old, v.status = v.status, verdict.status
    subject = f"proposal:{facts.proposal.ref}"
    if verdict.status == "adopted":
        v.basis, v.adopted_at = verdict.basis, verdict.adopted_at
        decision = _record_decision(tx, facts, verdict)
        facts = replace(facts, items=tuple(decision.items))  # notices show the references just given
        # The event binds what is published (title, items, a hash of the text), so a copy
        # of the public record can be checked against the chain.
        ev = tx.audit("proposal.adopted", subject, {
            "version": v.version, "basis": verdict.basis, "adopted_at": verdict.adopted_at,
            "decision": decision.number, "trace": [s.text for s in verdict.trace],
            "title": decision.title, "items": decision.items,
            "text_sha256": hashlib.sha256(decision.text.encode("utf-8")).hexdigest(),
        } | _published_documents(tx, v), facts.committee.id)
        decision.audit_hash = ev.hash
        tx.session.add(decision)
        _notify_all(tx, facts, "adoption", {"decision": notices.decision_data(decision)})
        case_flow.on_adopted(tx, facts.committee, facts.proposal, decision)  # its cases advance with it
    elif verdict.status == "lapsed":
        v.lapsed_at = verdict.lapsed_at
        tx.audit("proposal.lapsed", subject, {"version": v.version, "lapsed_at": verdict.lapsed_at}, facts.committee.id)
        for r in cochair_recipients(tx.session, facts.committee, facts.roster, tx.now):
            tx.notify(notices.proposal_notice("lapse", facts, r))
        case_flow.on_closed(tx, facts.committee, facts.proposal, "lapsed")
    else:
        tx.audit("proposal.status", subject, {"version": v.version, "from": old, "to": verdict.status}, facts.committee.id)
        case_flow.on_closed(tx, facts.committee, facts.proposal, verdict.status)  # withdrawn: its cases await another
    facts.proposal.status = verdict.status
    tx.session.add(v)
    tx.session.add(facts.proposal)
    return verdict.status


def _as_instances(session: Session, facts: Facts) -> Facts:
    """The facts with committee, proposal and version as ORM instances of `session` (a change writes through them)."""
    if isinstance(facts.version, ProposalVersion):
        return facts
    return replace(facts, committee=session.get(Committee, facts.committee.id),
                   proposal=session.get(Proposal, facts.proposal.id), version=session.get(ProposalVersion, facts.version.id))


def _published_documents(tx: Tx, v: ProposalVersion) -> dict:
    """{"documents": sorted SHA-256s} of the public documents a decision publishes, else {}.

    In the adoption event, so `audit verify --published` checks every published file
    against the chain, not only against the database.
    """
    public = sorted(a.sha256 for a in documents.of_version(tx.session, v.id) if a.visibility == "public")  # type: ignore[arg-type]
    return {"documents": public} if public else {}


def _record_decision(tx: Tx, facts: Facts, verdict: Verdict) -> Decision:
    assert verdict.adopted_at is not None and verdict.basis is not None
    items = tx.session.exec(select(ProposalItem).where(ProposalItem.version_id == facts.version.id)
                            .order_by(ProposalItem.position)).all()
    for item in items:
        if not item.reference:
            item.reference = item_reference(tx.session, facts.committee, item.kind)
            tx.session.add(item)
    tally = None
    if facts.roster.rules.publication.publish_tally:
        tally = {**verdict.tally, "electorate": len(facts.distribution.electorate)}
    decision = Decision(
        committee_id=facts.committee.id, number=decision_number(tx.session, facts.committee, verdict.adopted_at),
        title=facts.version.title, text=facts.version.text, basis=verdict.basis, adopted_at=verdict.adopted_at,
        items=[{"kind": i.kind, "title": i.title, "reference": i.reference} for i in items],
        version_id=facts.version.id, tally=tally,
    )
    tx.session.add(decision)
    tx.session.flush()
    return decision


def recipient(m: Member) -> notices.Recipient:
    """A notice recipient from a member row."""
    return notices.Recipient(m.handle, m.name, m.id, m.email, m.slack_user_id, m.timezone)


_M = Member.__table__  # type: ignore[attr-defined]
_MEMBERS = select(_M).where(_M.c.committee_id == bindparam("committee_id"))  # built once: every fan-out reads it


def members_by_handle(session: Session, committee: Committee) -> dict[str, Member]:
    """The committee's members by handle, as rows to read (an adoption's or a distribution's recipients).

    Core rows with the model's columns as attributes: loading twenty ORM instances cost
    more than the notices they address.
    """
    return {m.handle: m for m in session.connection().execute(_MEMBERS, {"committee_id": committee.id})}


def cochair_recipients(session: Session, committee: Committee, roster: Roster, at: datetime) -> list[notices.Recipient]:
    """Both co-chairs and their active alternates at `at` (once each), as the core names them."""
    by_handle = members_by_handle(session, committee)
    return [recipient(by_handle[h]) for h in escalation_recipients(roster, at) if h in by_handle]


def _notify_all(tx: Tx, facts: Facts, kind: str, extra: dict) -> None:
    by_handle = members_by_handle(tx.session, facts.committee)
    tx.notify_all([notices.proposal_notice(kind, facts, recipient(by_handle[handle]), extra)
                   for handle in facts.roster.active_members(tx.now) if handle in by_handle]
                  + [notices.announcement(kind, facts, extra)])


def settle_committee(tx: Tx, committee: Committee) -> list[tuple[str, str]]:
    """Re-evaluate every open version of a committee now (after a roster change such as a departure)."""
    roster = load_roster(tx.session, committee)
    changed = []
    q = (select(Proposal, ProposalVersion).join(ProposalVersion, ProposalVersion.proposal_id == Proposal.id)
         .where(Proposal.committee_id == committee.id, ProposalVersion.status.in_(OPEN_STATUSES)))  # type: ignore[attr-defined]
    for p, v in tx.session.exec(q):
        facts = gather(tx.session, committee, p, v, roster)
        new = settle(tx, facts, verdict_of(facts, tx.now))
        if new:
            changed.append((p.ref, new))
    return changed
