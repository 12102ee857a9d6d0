"""Read-only views: a proposal with its verdict, what is pending, verdicts now, single rows.

Every function here reads in `ServiceContext.read` (never the write lock) and changes
nothing; the sweep that records what verdicts change is `jcbot.services.sweep`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from jcbot.core.decision import Verdict
from jcbot.core.roster import Roster
from jcbot.services import documents
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.documents import Attached
from jcbot.services.evaluation import OPEN_STATUSES, facts_of, gather, verdict_of
from jcbot.services.proposals import get_proposal
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import load_roster, roster_marks
from jcbot.store.models import AssertionRecord, Committee, Decision, Proposal, ProposalItem, ProposalVersion


@dataclass(frozen=True)
class ProposalView:
    """A proposal's current version, its verdict now, and its record of assertions."""

    committee: Committee
    proposal: Proposal
    version: ProposalVersion
    items: tuple[dict, ...]
    verdict: Verdict | None
    assertions: tuple[AssertionRecord, ...] = field(default=())
    seat_holders: dict[str, str | None] = field(default_factory=dict)
    decision: Decision | None = None  # the decision that adopted this version, electronically or at a meeting
    documents: tuple[Attached, ...] = ()  # what the version carries, in order (frozen once distributed)

    @property
    def status(self) -> str:
        """What every reader shows: the core's verdict now, or adopted once a meeting adopted the referred version."""
        if self.decision is not None:
            return "adopted"
        return self.verdict.status if self.verdict is not None else self.version.status

    def days_left(self, now: datetime) -> float | None:
        """Days until the deadline (negative once past), None if not distributed."""
        if self.version.deadline is None:
            return None
        return (self.version.deadline - now).total_seconds() / 86400


def _view(session: Session, c: Committee, p: Proposal, v: ProposalVersion, now: datetime, roster=None) -> ProposalView:
    docs = tuple(documents.of_version(session, v.id))  # type: ignore[arg-type]
    if v.distributed_at is None:
        items = tuple({"kind": i.kind, "title": i.title, "reference": i.reference} for i in session.exec(
            select(ProposalItem).where(ProposalItem.version_id == v.id).order_by(ProposalItem.position)))
        return ProposalView(c, p, v, items, None, documents=docs)
    facts = gather(session, c, p, v, roster)
    records = tuple(session.exec(select(AssertionRecord).where(AssertionRecord.version_id == v.id)
                                 .order_by(AssertionRecord.at, AssertionRecord.id)))
    holders = {s: facts.roster.holder(s, now) for s in ("japan", "host")}
    decision = session.exec(select(Decision).where(Decision.version_id == v.id)).first()
    return ProposalView(c, p, v, facts.items, verdict_of(facts, now), records, holders, decision, docs)


def show(ctx: ServiceContext, ref: str) -> ProposalView:
    """One proposal as it stands now."""
    with ctx.read() as tx:
        c, p, v = get_proposal(tx.session, ref)
        return _view(tx.session, c, p, v, tx.now)


def pending(ctx: ServiceContext, slug: str | None = None) -> list[ProposalView]:
    """Every open or objected proposal (of one committee, or all), soonest deadline first."""
    with ctx.read() as tx:
        q = select(Committee, Proposal, ProposalVersion).join(Proposal, Proposal.committee_id == Committee.id).join(
            ProposalVersion, (ProposalVersion.proposal_id == Proposal.id) & (ProposalVersion.version == Proposal.current_version))
        q = q.where(ProposalVersion.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
        if slug:
            q = q.where(Committee.id == get_committee(tx.session, slug).id)
        rosters: dict[int, object] = {}
        views = []
        for c, p, v in tx.session.exec(q.order_by(ProposalVersion.deadline)):
            if c.id not in rosters:
                rosters[c.id] = load_roster(tx.session, c)
            views.append(_view(tx.session, c, p, v, tx.now, rosters[c.id]))
        return views


def open_version_ids(session: Session, changing_by: datetime | None = None) -> list[int]:
    """Distributed versions still open (whose verdict time alone can change by `changing_by`, if given)."""
    q = select(ProposalVersion.id).where(ProposalVersion.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                                         ProposalVersion.distributed_at.is_not(None))  # type: ignore[union-attr]
    if changing_by is not None:
        q = q.where(ProposalVersion.next_change_at <= changing_by)  # type: ignore[operator]
    return list(session.exec(q))


def current_verdicts(session: Session, ids: list[int], now: datetime,
                     chunk: int = 500) -> dict[int, tuple[ProposalVersion, Verdict]]:
    """The verdict now of each distributed version among `ids`, with its stored row.

    What every reader shows (API, dashboard, sweep): the computed status, which can be
    ahead of the stored one between a deadline and the sweep that records it. Read in
    chunks with one query for the versions and one for their assertions, so judging many
    proposals costs a few queries per chunk, not per proposal.
    """
    rosters: dict[int, Roster] = {}
    out: dict[int, tuple[ProposalVersion, Verdict]] = {}
    marks = roster_marks(session) if ids else {}  # one query for every committee's last roster change
    for start in range(0, len(ids), chunk):
        part = ids[start:start + chunk]
        rows = session.exec(select(Committee, Proposal, ProposalVersion)
                            .join(Proposal, Proposal.committee_id == Committee.id)
                            .join(ProposalVersion, ProposalVersion.proposal_id == Proposal.id)
                            .where(ProposalVersion.id.in_(part),  # type: ignore[union-attr]
                                   ProposalVersion.distributed_at.is_not(None))).all()  # type: ignore[union-attr]
        records: dict[int, list[AssertionRecord]] = {vid: [] for vid in part}
        for r in session.exec(select(AssertionRecord).where(AssertionRecord.version_id.in_(part))  # type: ignore[attr-defined]
                              .order_by(AssertionRecord.at, AssertionRecord.id)):
            records[r.version_id].append(r)
        for c, p, v in rows:
            if c.id not in rosters:
                rosters[c.id] = load_roster(session, c, marks.get(c.id, (None, 0)))  # type: ignore[index]
            facts = facts_of(c, p, v, rosters[c.id], records[v.id])  # type: ignore[index]
            out[v.id] = (v, verdict_of(facts, now))  # type: ignore[index]
    return out


def next_change(ctx: ServiceContext) -> datetime | None:
    """The soonest instant ahead at which time alone changes an open verdict (the scheduler's next alarm)."""
    with ctx.read() as tx:
        return tx.session.exec(select(ProposalVersion.next_change_at).where(
            ProposalVersion.status.in_(OPEN_STATUSES), ProposalVersion.next_change_at > tx.now)  # type: ignore[union-attr,operator]
            .order_by(ProposalVersion.next_change_at).limit(1)).first()


def committee_of(ctx: ServiceContext, ref: str) -> int:
    """The committee id of proposal `ref` (ServiceError if unknown)."""
    found = committees_of(ctx, [ref])[ref]
    if isinstance(found, ServiceError):
        raise found
    return found


def committees_of(ctx: ServiceContext, refs: Iterable[str]) -> dict[str, int | ServiceError]:
    """`committee_of` for several proposals in one read: each ref's committee id, or the refusal it gets."""
    out: dict[str, int | ServiceError] = {}
    with ctx.read() as tx:
        for ref in refs:
            try:
                out[ref] = get_proposal(tx.session, ref)[0].id  # type: ignore[assignment]
            except ServiceError as refusal:
                out[ref] = refusal
    return out


def recent_decisions(ctx: ServiceContext, committee_ids: list[int] | None, limit: int = 5) -> list[Decision]:
    """The latest adopted decisions of the given committees (None: all), newest first."""
    if committee_ids is not None and not committee_ids:
        return []
    with ctx.read() as tx:
        q = select(Decision)
        if committee_ids is not None:
            q = q.where(Decision.committee_id.in_(committee_ids))  # type: ignore[attr-defined]
        return list(tx.session.exec(q.order_by(Decision.adopted_at.desc()).limit(limit)))  # type: ignore[attr-defined]
