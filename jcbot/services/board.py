"""The dashboard as data: open proposals, positions, duties and outbox problems per committee.

Co-chairs, alternates and the secretariat see everything of their committees; a member
sees only the proposals still awaiting their own assertion.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from jcbot.core.cycle import final, pending_check
from jcbot.core.duties import Duty, awaits_proposal, calendar_duties
from jcbot.services.viewers import Access, Viewer
from jcbot.services import case_duties, documents, queries, reach
from jcbot.services.case_flow import load, view_of
from jcbot.services.context import ServiceContext
from jcbot.services.roster_log import load_roster
from jcbot.store import outbox
from jcbot.store.audit import AuditEvent
from jcbot.store.experts import ExpertAppointment
from jcbot.store.cases import Case, CaseDocument, CaseItem
from jcbot.store.documents import Document
from jcbot.store.models import Committee, Meeting, Member, Proposal, ProposalItem, ProposalVersion


def when(at: datetime | None, zone: str) -> str:
    """An instant as people read it: 'Tue 24 Mar 2026, 00:00 (Asia/Ulaanbaatar)'."""
    if at is None:
        return "-"
    local = at.astimezone(ZoneInfo(zone))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} ({zone})"


def days_text(days: float | None, status: str) -> str:
    """'12 days left', 'less than a day left', 'period over 3 days ago'."""
    if days is None:
        return "not distributed"
    if days >= 1:
        n = int(days)
        return f"{n} day{'s' if n != 1 else ''} left"
    if days > 0:
        return "less than a day left"
    n = int(-days)
    return "period over today" if n == 0 else f"period over {n} day{'s' if n != 1 else ''} ago"


@dataclass(frozen=True)
class Negative:
    name: str
    at: str
    opinion: str | None
    channel: str


@dataclass(frozen=True)
class Card:
    """One open proposal as the co-chairs see it."""

    view: queries.ProposalView
    deadline: str
    days: str
    tally: dict
    seats: list[tuple[str, str, str | None]]  # seat, holder's name, position
    awaiting: list[str]
    negatives: list[Negative]
    left_open: list[str]
    experts: list[ExpertAppointment] = field(default_factory=list)  # appointed to it, not revoked


@dataclass(frozen=True)
class Draft:
    """A proposal not yet distributed, as the secretariat prepares it: its items and documents."""

    ref: str
    version: int
    title: str
    text: str
    items: list[dict]
    documents: list[documents.Attached]
    experts: list[ExpertAppointment] = field(default_factory=list)


@dataclass(frozen=True)
class CaseRow:
    """A case of the project cycle as the secretariat works on it (times in the viewer's zone)."""

    ref: str
    kind: str
    title: str
    state: str
    number: str | None
    windows: list[tuple[str, str]]  # (window's name, its end)
    duties: list[str]
    documents: list[tuple[str, str, str]]  # (name, visibility, SHA-256)
    carried_by: str | None  # the JC proposal (draft or open) that carries it
    checkable: bool  # waits for the completeness check
    proposable: bool  # awaits a JC proposal and none carries it
    open_to_documents: bool  # neither settled for good nor carried by a proposal (case_documents.attach)


@dataclass
class CommitteeBoard:
    """One committee on the dashboard."""

    access: Access
    cards: list[Card] = field(default_factory=list)
    duties: list[Duty] = field(default_factory=list)
    problems: list[outbox.OutboxMessage] = field(default_factory=list)
    unreachable: list[reach.Unreachable] = field(default_factory=list)  # members no notice reaches
    awaiting_me: list[tuple[queries.ProposalView, str, str]] = field(default_factory=list)  # view, deadline, days
    answered: list[queries.ProposalView] = field(default_factory=list)  # open, answered: the answer may change
    drafts: list[Draft] = field(default_factory=list)  # for those who prepare and distribute proposals
    cases: list[CaseRow] = field(default_factory=list)  # the committee's project cycle, newest first


def _names(session: Session, committee_id: int) -> dict[str, str]:
    return {m.handle: m.name for m in session.exec(select(Member).where(Member.committee_id == committee_id))}


def _left_open(session: Session, committee_id: int, ref: str, version: int, names: dict, zone: str) -> list[str]:
    q = select(AuditEvent).where(AuditEvent.committee_id == committee_id, AuditEvent.action == "proposal.left_open",
                                 AuditEvent.subject == f"proposal:{ref}").order_by(AuditEvent.id)
    out = []
    for ev in session.exec(q):
        data = json.loads(ev.data)
        if data.get("version") == version:
            note = f": {data['note']}" if data.get("note") else ""
            out.append(f"Left open by {names.get(data.get('by'), data.get('by'))} on {when(ev.at, zone)}{note}")
    return out


def card(session: Session, view: queries.ProposalView, names: dict[str, str], zone: str, now: datetime) -> Card:
    """The co-chairs' card of one open proposal (times in `zone`)."""
    v, verdict = view.version, view.verdict
    assert verdict is not None
    tally = {**verdict.tally, "awaiting": len(verdict.awaiting), "electorate": len(v.electorate or ())}
    seats = [(s, names.get(view.seat_holders.get(s) or "", view.seat_holders.get(s) or "vacant"), p)
             for s, p in verdict.seat_positions.items()]
    negatives = [Negative(names.get(a.member, a.member), when(a.at, zone), a.opinion, a.channel)
                 for a in view.assertions if a.position == "negative"]
    return Card(view, when(v.deadline, zone), days_text(view.days_left(now), v.status), tally, seats,
                [names.get(h, h) for h in verdict.awaiting], negatives,
                _left_open(session, view.committee.id, view.proposal.ref, v.version, names, zone),  # type: ignore[arg-type]
                experts_of(session, view.proposal.id))  # type: ignore[arg-type]


def experts_of(session: Session, proposal_id: int) -> list[ExpertAppointment]:
    """The experts appointed to a proposal now (revoked ones left out), in order."""
    return list(session.exec(select(ExpertAppointment).where(
        ExpertAppointment.proposal_id == proposal_id, ExpertAppointment.revoked_at.is_(None))  # type: ignore[union-attr]
        .order_by(ExpertAppointment.id)))


def _duties(session: Session, access: Access, now: datetime) -> list[Duty]:
    c = access.committee
    last = session.exec(select(func.max(Meeting.held_on)).where(Meeting.committee_id == c.id)).one()
    created = c.created_at.astimezone(ZoneInfo(c.timezone)).date()
    return calendar_duties(load_roster(session, c), last, created, now) + case_duties.of_committee(session, c, now)


def drafts(session: Session, committee_id: int) -> list[Draft]:
    """The committee's proposals still in draft (current version not distributed), oldest first."""
    q = (select(Proposal, ProposalVersion)
         .join(ProposalVersion, (ProposalVersion.proposal_id == Proposal.id)
               & (ProposalVersion.version == Proposal.current_version))
         .where(Proposal.committee_id == committee_id, ProposalVersion.distributed_at.is_(None))  # type: ignore[union-attr]
         .order_by(Proposal.id))
    out = []
    for p, v in session.exec(q):
        items = [{"kind": i.kind, "title": i.title, "reference": i.reference} for i in session.exec(
            select(ProposalItem).where(ProposalItem.version_id == v.id).order_by(ProposalItem.position))]
        out.append(Draft(p.ref, v.version, v.title, v.text, items, documents.of_version(session, v.id),  # type: ignore[arg-type]
                         experts_of(session, p.id)))  # type: ignore[arg-type]
    return out


def case_rows(session: Session, c: Committee, zone: str, now: datetime, duties: list[Duty]) -> list[CaseRow]:
    """Every case of a committee, newest first, with its windows' ends in `zone`, duties and documents."""
    carrying: dict[int, str] = {case_id: ref for case_id, ref in session.exec(
        select(CaseItem.case_id, Proposal.ref).join(Proposal, Proposal.id == CaseItem.proposal_id)
        .join(Case, Case.id == CaseItem.case_id)
        .where(Case.committee_id == c.id, Proposal.status.in_(("draft", "open", "objected", "referred"))))}  # type: ignore[attr-defined]
    docs: dict[int, list[tuple[str, str, str]]] = {}
    for cd, d in session.exec(select(CaseDocument, Document).join(Document, Document.id == CaseDocument.document_id)
                              .join(Case, Case.id == CaseDocument.case_id).where(Case.committee_id == c.id)
                              .order_by(CaseDocument.id)):
        docs.setdefault(cd.case_id, []).append((cd.name, d.visibility, d.sha256))
    out = []
    for case in session.exec(select(Case).where(Case.committee_id == c.id).order_by(Case.id.desc())):  # type: ignore[union-attr]
        view = view_of(load(session, case), now)
        windows = [(name.replace("_", " "), when(w.end, zone)) for name, w in view.windows.items()]
        carried = carrying.get(case.id) or view.proposal
        out.append(CaseRow(case.ref, case.kind, case.title, view.state, view.number, windows,
                           [d.text for d in duties if d.case == case.ref], docs.get(case.id, []),  # type: ignore[arg-type]
                           carried, pending_check(view.kind, view.state),
                           awaits_proposal(view) and carried is None,
                           not final(view.kind, view.state) and carried is None))
    return out


def board(ctx: ServiceContext, who: Viewer) -> list[CommitteeBoard]:
    """The dashboard of `who`: one entry per committee they belong to."""
    views = queries.pending(ctx)
    with ctx.read("web:dashboard") as tx:
        problems = outbox.problems(tx.session)
        out = []
        for access in who.access:
            c = access.committee
            zone = access.timezone or c.timezone
            names = _names(tx.session, c.id)  # type: ignore[arg-type]
            mine = [v for v in views if v.committee.id == c.id and v.verdict is not None]
            b = CommitteeBoard(access)
            if access.full:
                b.cards = [card(tx.session, v, names, zone, tx.now) for v in mine]
                b.duties = _duties(tx.session, access, tx.now)
                b.problems = [m for m in problems if m.committee_id == c.id]
                b.unreachable = reach.unreachable(tx.session, c, tx.now)
                b.drafts = drafts(tx.session, c.id)  # type: ignore[arg-type]
                b.cases = case_rows(tx.session, c, zone, tx.now, b.duties)
            else:
                b.awaiting_me = [(v, when(v.version.deadline, zone), days_text(v.days_left(tx.now), v.version.status))
                                 for v in mine if access.handle in v.verdict.awaiting]  # type: ignore[union-attr]
                b.answered = [v for v in mine if access.handle in v.verdict.positions  # type: ignore[union-attr]
                              and not v.verdict.final]  # type: ignore[union-attr]
            out.append(b)
        return out


def unfiled_problems(ctx: ServiceContext, who: Viewer) -> list[outbox.OutboxMessage]:
    """Outbox problems of no committee (sign-in links...), for the secretariat of every committee."""
    if not who.global_secretariat:
        return []
    with ctx.read("web:dashboard") as tx:
        return [m for m in outbox.problems(tx.session) if m.committee_id is None]
