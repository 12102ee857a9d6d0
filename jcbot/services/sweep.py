"""The sweep: records what the verdicts of open proposals change now (adoption, lapse, status).

The only writer among the views: it judges every candidate in one read-only snapshot
(`queries.current_verdicts`), then locks and settles, one transaction each, only the
versions whose recorded verdict is behind.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from jcbot.services.context import ServiceContext
from jcbot.services.evaluation import OPEN_STATUSES, Facts, gather, settle, verdict_of
from jcbot.services.queries import current_verdicts, open_version_ids
from jcbot.store.models import Committee, Proposal, ProposalVersion


@dataclass(frozen=True)
class SweepResult:
    """What a sweep changed: (proposal ref, new status) pairs, and how many it looked at."""

    examined: int
    changed: list[tuple[str, str]]


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
    with ctx.read(actor) as rtx:
        ids = open_version_ids(rtx.session, None if full else rtx.now)
        due = [vid for vid, (v, verdict) in current_verdicts(rtx.session, ids, rtx.now).items()
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
            facts: Facts = gather(tx.session, c, p, v)  # type: ignore[arg-type]  # the roster comes from the context's cache
            new = settle(tx, facts, verdict_of(facts, tx.now))
            if new:
                changed.append((p.ref, new))  # type: ignore[union-attr]
    return SweepResult(len(ids), changed)
