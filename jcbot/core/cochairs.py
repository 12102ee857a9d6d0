"""Who acts for the co-chairs (PROCEDURE.md 1 and 7).

A proposal is distributed, and a negative answered (revise, withdraw, refer, leave
open), by the co-chairs: a seat's holder, its active alternate, or the secretariat on
their behalf. Every negative goes to both co-chairs and their alternates.
"""
from __future__ import annotations

from datetime import datetime

from jcbot.core.errors import ProcedureError
from jcbot.core.roster import GOVERNMENTS, Roster

SECRETARIAT = "secretariat on behalf of the co-chairs"


def acting_for_cochairs(roster: Roster, by: str | None, at: datetime, what: str) -> str:
    """Who acts: `by` if they hold a seat or are an active alternate at `at`; None is the secretariat."""
    if by is None:
        return SECRETARIAT
    if not roster.seats_spoken_for(by, at):
        raise ProcedureError(f"{by} is neither a co-chair nor an active alternate, so cannot {what}")
    return by


def escalation_recipients(roster: Roster, at: datetime) -> tuple[str, ...]:
    """Both co-chairs and their active alternates at `at`, each once, seat by seat."""
    out: list[str] = []
    for seat in GOVERNMENTS:
        for handle in (roster.holder(seat, at), roster.alternate(seat, at)):
            if handle and handle not in out:
                out.append(handle)
    return tuple(out)
