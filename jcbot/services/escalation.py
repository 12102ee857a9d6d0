"""The co-chairs' answer to a negative that changes nothing: leave the proposal open.

PROCEDURE 7 lists four answers; withdraw, refer and revise live in
`jcbot.services.proposals`. Leaving it open changes no state, but the co-chairs' choice
belongs in the record, so it is an audit event like the others.
"""
from __future__ import annotations

from jcbot.core.cochairs import acting_for_cochairs
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.evaluation import OPEN_STATUSES, gather, settle, verdict_of
from jcbot.services.proposals import lock_proposal
from jcbot.services.roster_log import load_roster


def leave_open(ctx: ServiceContext, ref: str, actor: str, by: str, note: str | None = None) -> str:
    """Record that co-chair (or alternate) `by` leaves `ref` open; returns its status."""
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        roster = load_roster(tx.session, c)
        acting_for_cochairs(roster, by, tx.now, f"decide to leave {ref} open")
        if v.distributed_at is None:
            raise ServiceError(f"{ref} has not been distributed")
        # Settle first: a deadline may have passed since the last sweep.
        facts = gather(tx.session, c, p, v, roster)
        settle(tx, facts, verdict_of(facts, tx.now))
        if v.status not in OPEN_STATUSES:
            raise ServiceError(f"{ref} is {v.status}; there is nothing to leave open")
        tx.audit("proposal.left_open", f"proposal:{ref}", {"version": v.version, "by": by, "note": note}, c.id)
        return v.status
