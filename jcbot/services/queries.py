"""Read-only views: a proposal with its verdict, what is pending, the sweep of open proposals."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, func, select

from jcbot.core.decision import Verdict
from jcbot.services.context import ServiceContext
from jcbot.services.evaluation import OPEN_STATUSES, Facts, facts_of, gather, settle, verdict_of
from jcbot.services.proposals import get_proposal
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import load_roster
from jcbot.core.roster import Roster
from jcbot.store.models import AssertionRecord, Committee, Proposal, ProposalVersion, RosterChange


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

    def days_left(self, now: datetime) -> float | None:
        """Days until the deadline (negative once past), None if not distributed."""
        if self.version.deadline is None:
            return None
        return (self.version.deadline - now).total_seconds() / 86400


def _view(session: Session, c: Committee, p: Proposal, v: ProposalVersion, now: datetime, roster=None) -> ProposalView:
    if v.distributed_at is None:
        return ProposalView(c, p, v, (), None)
    facts = gather(session, c, p, v, roster)
    records = tuple(session.exec(select(AssertionRecord).where(AssertionRecord.version_id == v.id)
                                 .order_by(AssertionRecord.at, AssertionRecord.id)))
    holders = {s: facts.roster.holder(s, now) for s in ("japan", "host")}
    return ProposalView(c, p, v, facts.items, verdict_of(facts, now), records, holders)


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


@dataclass(frozen=True)
class SweepResult:
    """What a sweep changed: (proposal ref, new status) pairs, and how many it looked at."""

    examined: int
    changed: list[tuple[str, str]]


def open_version_ids(session: Session, changing_by: datetime | None = None) -> list[int]:
    """Distributed versions still open (whose verdict time alone can change by `changing_by`, if given)."""
    q = select(ProposalVersion.id).where(ProposalVersion.status.in_(OPEN_STATUSES),  # type: ignore[attr-defined]
                                         ProposalVersion.distributed_at.is_not(None))  # type: ignore[union-attr]
    if changing_by is not None:
        q = q.where(ProposalVersion.next_change_at <= changing_by)  # type: ignore[operator]
    return list(session.exec(q))


def sweep(ctx: ServiceContext, actor: str = "scheduler", full: bool = False) -> SweepResult:
    """Evaluate open proposals now and record what changed, one transaction each.

    Every change that can alter a verdict (an assertion, a departure, the co-chairs'
    actions) settles its proposals in its own transaction; time alone changes a verdict
    only at the instant the core named as its `next_change` when it was last settled
    (stored as `next_change_at`). A routine sweep looks at the versions whose instant has
    come; `full` looks at every open one. Adoption is recorded at the instant the core
    gives (the deadline, or the assertion that completed it), however late the sweep
    runs; a second sweep changes nothing.
    """
    # Judge every candidate in one read-only snapshot (cheap, never blocks writers); lock
    # and settle, each in its own transaction, only those whose verdict must be recorded.
    rosters: dict[int, tuple[int | None, Roster]] = {}
    with ctx.read(actor) as rtx:
        ids = open_version_ids(rtx.session, None if full else rtx.now)
        due = [vid for vid, (v, verdict) in current_verdicts(rtx.session, ids, rtx.now, rosters).items()
               if verdict.status != v.status or verdict.next_change != v.next_change_at]
    changed = []
    for vid in due:
        with ctx.tx(actor) as tx:
            # Lock the proposal first, as every change does, then read the version: a
            # sweep on another machine or an assertion arriving now has committed by then.
            pid = tx.session.exec(select(ProposalVersion.proposal_id).where(ProposalVersion.id == vid)).one()
            p = tx.session.get(Proposal, pid, with_for_update=True)
            tx.after_lock()
            v = tx.session.get(ProposalVersion, vid, populate_existing=True)
            if v is None or v.status not in OPEN_STATUSES:
                continue  # settled meanwhile by another worker
            c = tx.session.get(Committee, p.committee_id)  # type: ignore[union-attr]
            facts: Facts = gather(tx.session, c, p, v, _roster(tx.session, c, rosters))  # type: ignore[arg-type]
            new = settle(tx, facts, verdict_of(facts, tx.now))
            if new:
                changed.append((p.ref, new))  # type: ignore[union-attr]
    return SweepResult(len(ids), changed)


def current_verdicts(session: Session, ids: list[int], now: datetime, rosters: dict | None = None,
                     chunk: int = 500) -> dict[int, tuple[ProposalVersion, Verdict]]:
    """The verdict now of each distributed version among `ids`, with its stored row.

    What every reader shows (API, dashboard, sweep): the computed status, which can be
    ahead of the stored one between a deadline and the sweep that records it. Read in
    chunks with one query for the versions and one for their assertions, so judging many
    proposals costs a few queries per chunk, not per proposal.
    """
    rosters = {} if rosters is None else rosters
    out: dict[int, tuple[ProposalVersion, Verdict]] = {}
    lasts = dict(session.exec(select(RosterChange.committee_id, func.max(RosterChange.id))
                              .group_by(RosterChange.committee_id)).all()) if ids else {}
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
            facts = facts_of(c, p, v, _roster(session, c, rosters, lasts.get(c.id)), records[v.id])  # type: ignore[index]
            out[v.id] = (v, verdict_of(facts, now))  # type: ignore[index]
    return out


def _roster(session: Session, c: Committee, cache: dict[int, tuple[int | None, Roster]], last: int | None = None) -> Roster:
    """The committee's roster, replayed once per sweep unless a roster change was committed since."""
    if last is None:
        last = session.exec(select(func.max(RosterChange.id)).where(RosterChange.committee_id == c.id)).one()
    cached = cache.get(c.id)  # type: ignore[arg-type]
    if cached is None or cached[0] != last:
        cached = cache[c.id] = (last, load_roster(session, c))  # type: ignore[index]
    return cached[1]


def next_change(ctx: ServiceContext) -> datetime | None:
    """The soonest instant ahead at which time alone changes an open verdict (the scheduler's next alarm)."""
    with ctx.read() as tx:
        return tx.session.exec(select(ProposalVersion.next_change_at).where(
            ProposalVersion.status.in_(OPEN_STATUSES), ProposalVersion.next_change_at > tx.now)  # type: ignore[union-attr,operator]
            .order_by(ProposalVersion.next_change_at).limit(1)).first()
