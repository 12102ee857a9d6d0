"""What the calendar asks of people: reminders before a deadline, and the JC's duties.

Not rules of PROCEDURE.md but options of a rules file (`reminders`, `meetings`), decided
here so the scheduler only asks "what is due at `now`?".
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from jcbot.core.decision import Verdict
from jcbot.core.roster import GOVERNMENTS, Government, Roster

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

    kind: str  # term_ending, seat_vacant, no_meeting
    key: str
    text: str


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
