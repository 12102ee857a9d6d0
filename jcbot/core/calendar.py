"""The committee's calendar: days counted in its time zone, DST included."""
from __future__ import annotations

import calendar as _cal
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from jcbot.core.rules import ElectronicDecision, TermLength

UTC = timezone.utc


def require_aware(at: datetime, what: str = "instant") -> datetime:
    """Refuse a naive datetime: every instant must carry its offset."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} {at.isoformat()} has no UTC offset")
    return at


def utc(at: datetime, what: str = "instant") -> datetime:
    """An aware instant in UTC: Python compares two datetimes sharing a ZoneInfo by wall
    time (a repeated hour would sort wrongly), so the core keeps every instant in UTC."""
    return require_aware(at, what).astimezone(UTC)


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of `day` in `tz`, in UTC.

    Usually local midnight. Where a DST gap swallows midnight (America/Santiago,
    America/Havana...) the day starts at the transition, the first instant whose local
    date is `day`; where a repeated hour contains midnight, the earlier midnight counts.
    """
    # fold=0 reads an ambiguous midnight as the earlier one; a midnight inside a gap is
    # read with the pre-transition offset, which lands at or after the transition.
    guess = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)
    lo = guess - timedelta(hours=26)
    if _local_date(lo, tz) >= day:  # pragma: no cover - no zone shifts by more than a day
        raise ValueError(f"cannot find the start of {day} in {tz.key}")
    # Bisect (to the second) for the first instant whose local date is `day`; inside this
    # window only a forward transition can occur before `guess`, so the date is monotone.
    hi = guess
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if _local_date(mid, tz) >= day:
            hi = mid
        else:
            lo = mid
    return hi


def _local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def local_date(at: datetime, tz: ZoneInfo) -> date:
    """The calendar date of an instant in the committee's time zone."""
    return _local_date(require_aware(at), tz)


def period_deadline(distributed_at: datetime, ed: ElectronicDecision, tz: ZoneInfo) -> datetime:
    """The exclusive end of the objection period (PROCEDURE.md, 2).

    Day 0 is the local date of distribution; the deadline is the first instant of the
    day after day N. With `period_ends: exact` it is distributed_at + N x 24 h.
    """
    require_aware(distributed_at, "distributed_at")
    n = ed.objection_period_days
    if ed.period_ends == "exact":
        # In UTC: adding days to a ZoneInfo datetime moves the wall clock, not N x 24 h.
        return utc(distributed_at) + timedelta(days=n)
    return start_of_day(local_date(distributed_at, tz) + timedelta(days=n + 1), tz)


def period_day(at: datetime, distributed_at: datetime, tz: ZoneInfo) -> int:
    """Which day of the period an instant falls on (day 0 = the day of distribution)."""
    return (local_date(at, tz) - local_date(distributed_at, tz)).days


def add_term(start: datetime, term: TermLength, tz: ZoneInfo) -> datetime:
    """The end of a term that starts at `start`: same local wall time, months on the calendar.

    A term from 29 February ends on 28 February of a year without one (the day is clamped
    to the month's length).
    """
    local = require_aware(start).astimezone(tz)
    months = local.month - 1 + term.months + 12 * term.years
    year, month = local.year + months // 12, months % 12 + 1
    day = min(local.day, _cal.monthrange(year, month)[1])
    wall = local.replace(tzinfo=None, year=year, month=month, day=day) + timedelta(days=term.days)
    return wall.replace(tzinfo=tz).astimezone(UTC)
