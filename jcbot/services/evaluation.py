"""Verdicts from stored facts, and recording what they change (adoption, lapse, status).

The core decides; this module only gathers the facts of a version, asks
`jcbot.core.decision.evaluate`, and writes the outcome at the instant the core gives.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
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

    The facts may hold ORM instances or, from an intake, plain rows: an adoption is
    written by Core statements (`_adopt`), another status change through ORM instances
    of this session (loaded here for rows); the mark of the next change alone is one
    prepared UPDATE.
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
    if verdict.status == "adopted":
        _adopt(tx, facts, verdict)
        return verdict.status
    facts = _as_instances(tx.session, facts)
    v = facts.version
    v.next_change_at = verdict.next_change
    old, v.status = v.status, verdict.status
    subject = f"proposal:{facts.proposal.ref}"
    if verdict.status == "lapsed":
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


_P, _I, _D = (t.__table__ for t in (Proposal, ProposalItem, Decision))  # type: ignore[attr-defined]
# The adoption's statements, built once (Core: an adoption is the most frequent change after an assertion).
_ITEMS = (core_select(_I.c.id, _I.c.kind, _I.c.title, _I.c.reference).where(_I.c.version_id == bindparam("version_id"))
          .order_by(_I.c.position))
_SET_REFERENCE = _I.update().where(_I.c.id == bindparam("item_id")).values(reference=bindparam("ref"))
_ADOPT_VERSION = _V.update().where(_V.c.id == bindparam("version_id")).values(
    status=bindparam("v_status"), basis=bindparam("v_basis"), adopted_at=bindparam("v_adopted_at"),
    next_change_at=bindparam("next"))
_SET_PROPOSAL_STATUS = _P.update().where(_P.c.id == bindparam("proposal_id")).values(status=bindparam("p_status"))
_INSERT_DECISION = _D.insert()


def _adopt(tx: Tx, facts: Facts, verdict: Verdict) -> None:
    """Record an adoption: the items' references, the decision, its audit event, the version and proposal, the notices.

    Core statements on the tables, for facts of rows (an intake) or of ORM instances (the
    sweep, a withdrawal's settling...): those are flushed first and expired after, so
    the session reads back what was written.
    """
    assert verdict.adopted_at is not None and verdict.basis is not None
    s, c, v = tx.session, facts.committee, facts.version
    orm = isinstance(v, ProposalVersion)
    if orm:
        s.flush()
    conn = s.connection()
    items = []
    for item in conn.execute(_ITEMS, {"version_id": v.id}):
        reference = item.reference
        if not reference and (reference := item_reference(s, c, item.kind)):
            conn.execute(_SET_REFERENCE, {"item_id": item.id, "ref": reference})
        items.append({"kind": item.kind, "title": item.title, "reference": reference})
    number = decision_number(s, c, verdict.adopted_at)
    tally = None
    if facts.roster.rules.publication.publish_tally:
        tally = {**verdict.tally, "electorate": len(facts.distribution.electorate)}
    # The event binds what is published (title, items, a hash of the text), so a copy
    # of the public record can be checked against the chain.
    ev = tx.audit("proposal.adopted", f"proposal:{facts.proposal.ref}", {
        "version": v.version, "basis": verdict.basis, "adopted_at": verdict.adopted_at,
        "decision": number, "trace": [step.text for step in verdict.trace],
        "title": v.title, "items": items,
        "text_sha256": hashlib.sha256(v.text.encode("utf-8")).hexdigest(),
    } | _published_documents(s, v.id), c.id)
    values = dict(committee_id=c.id, number=number, title=v.title, text=v.text, items=items, basis=verdict.basis,
                  adopted_at=verdict.adopted_at, version_id=v.id, meeting_id=None, tally=tally, audit_hash=ev.hash)
    decision = Decision(id=conn.execute(_INSERT_DECISION, values).inserted_primary_key[0], **values)  # not in the session
    adopted = {"status": verdict.status, "basis": verdict.basis, "adopted_at": verdict.adopted_at,
               "next_change_at": verdict.next_change}
    conn.execute(_ADOPT_VERSION, {"version_id": v.id, "v_status": verdict.status, "v_basis": verdict.basis,
                                  "v_adopted_at": verdict.adopted_at, "next": verdict.next_change})
    conn.execute(_SET_PROPOSAL_STATUS, {"proposal_id": facts.proposal.id, "p_status": verdict.status})
    # The notices and the cases see the version as it now stands, and the references just given.
    facts = replace(facts, version=_row_of(_V, v, adopted), proposal=_row_of(_P, facts.proposal, {"status": verdict.status}),
                    items=tuple(items))
    if orm:
        s.expire_all()  # the instances held before reload what the statements wrote
    _notify_all(tx, facts, "adoption", {"decision": notices.decision_data(decision)})
    case_flow.on_adopted(tx, c, facts.proposal, decision)  # its cases advance with it


def _published_documents(session: Session, version_id: int) -> dict:
    """{"documents": sorted SHA-256s} of the public documents a decision publishes, else {}.

    In the adoption event, so `audit verify --published` checks every published file
    against the chain, not only against the database.
    """
    public = documents.public_hashes(session, version_id)
    return {"documents": public} if public else {}


def _row_of(table: Any, row: Any, changes: dict[str, Any]) -> SimpleNamespace:
    """A row (or an ORM instance) as a plain record of the table's columns, with `changes` applied."""
    return SimpleNamespace(**({col.name: getattr(row, col.name) for col in table.c} | changes))


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
