"""What the calendar asks of people: reminders before a deadline, and the JC's duties.

Not rules of PROCEDURE.md but options of a rules file (`reminders`, `meetings`), decided
here so the scheduler only asks "what is due at `now`?".
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from jcbot.core.cycle import CHECK_OVERDUE, CaseView
from jcbot.core.decision import Verdict
from jcbot.core.roster import GOVERNMENTS, Government, Roster
from jcbot.core.trace import describe_at

TERM_WARNING = timedelta(days=30)


def due_reminder(deadline: datetime, days_before: tuple[int, ...], now: datetime) -> int | None:
    """The reminder due at `now`: the latest mark (days before the deadline) already reached.

    None before the first mark and from the deadline on. After downtime only the latest
    mark is due, so members get one reminder, not a burst of stale ones.
    """
    if now >= deadline:
        return None
    reached = [d for d in days_before if deadline - timedelta(days=d) <= now]
    return min(reached) if reached else None


def seats_missing_affirmation(verdict: Verdict) -> tuple[Government, ...]:
    """Seats whose affirmation the no-objection path still needs."""
    return tuple(s for s in GOVERNMENTS if verdict.seat_positions.get(s) != "affirmative")


@dataclass(frozen=True)
class Duty:
    """A calendar duty to flag to the secretariat and the co-chairs; `key` identifies it once."""

    kind: str  # term_ending, seat_vacant, no_meeting, check_overdue, awaiting_proposal
    key: str
    text: str
    case: str | None = None  # the case a case duty is about (its reference)


def calendar_duties(roster: Roster, last_meeting: date | None, created: date, now: datetime) -> list[Duty]:
    """Co-chair terms ending within 30 days or ended, and a year without a meeting."""
    duties: list[Duty] = []
    tz = roster.rules.tz
    for seat in GOVERNMENTS:
        term = roster.term(seat, now)
        if term is None:
            last = [t for t in roster.terms if t.seat == seat and t.span.end is not None and t.span.end <= now]
            since = max((t.span.end for t in last), default=None)  # type: ignore[type-var]
            key = f"seat_vacant:{seat}:{since.isoformat() if since else 'never'}"
            duties.append(Duty("seat_vacant", key, f"The {seat} co-chair seat is vacant"
                               + (f" since {since.astimezone(tz).date()}" if since else "") + ": record an election."))
        elif term.span.end is not None and term.span.end - now <= TERM_WARNING:
            end = term.span.end.astimezone(tz).date()
            duties.append(Duty("term_ending", f"term_ending:{seat}:{term.member}:{end}",
                               f"The {seat} co-chair's term ({term.member}) ends on {end}: prepare the election."))
    limit = roster.rules.meetings.flag_after_days
    reference = last_meeting or created
    today = now.astimezone(tz).date()
    if (today - reference).days >= limit:
        since = f"since {last_meeting}" if last_meeting else "ever"
        duties.append(Duty("no_meeting", f"no_meeting:{reference}:{(today - reference).days // limit}",
                           f"No meeting of the JC has been recorded {since}: the JC meets at least once a year."))
    return duties


def awaits_proposal(view: CaseView) -> bool:
    """Whether a case waits for a JC proposal to carry it: nothing distributed carries it (a TPE's application too)."""
    # A withdrawn or lapsed proposal leaves the case awaiting_decision with none (PROJECT_CYCLE,
    # Methodology 5); a TPE awaits the JC from its application on (PROJECT_CYCLE, TPE).
    waiting = view.state == "awaiting_decision" or (view.kind == "tpe" and view.state == "applied")
    return waiting and view.proposal is None


def case_duties(cases: Iterable[tuple[str, str, CaseView]], tz: ZoneInfo, now: datetime) -> list[Duty]:
    """What the cycle asks of the secretariat now, from each case's (ref, title, view): overdue checks, proposals to draft.

    Keyed by the committee's local day, so the secretariat and the co-chairs hear of each
    once a day while it lasts: the cycle never takes a step by default on anyone's behalf.
    """
    today = now.astimezone(tz).date()
    out: list[Duty] = []
    for ref, title, view in cases:
        if CHECK_OVERDUE in view.duties:
            window = view.windows.get("completeness_check")
            ended = f" (its {window.days}-day window ended {describe_at(window.end, tz)})" if window else ""
            out.append(Duty("check_overdue", f"check_overdue:{ref}:{today}",
                            f"{ref} {title}: the completeness check is overdue{ended}: record it as complete or "
                            "incomplete.", ref))
        if awaits_proposal(view):
            out.append(Duty("awaiting_proposal", f"awaiting_proposal:{ref}:{today}",
                            f"{ref} {title}: awaits the JC's decision and no proposal carries it: draft and "
                            "distribute one.", ref))
    return out
