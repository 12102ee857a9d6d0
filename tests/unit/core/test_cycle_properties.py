"""The cycle's windows stated once more, independently, and checked against the core.

PROJECT_CYCLE.md, "Windows and calendar": a period of N calendar days in the committee's
time zone starts on day 0, the local date of its start, and something is within it when
it happens on or after the start and on a local date at most N days after day 0. The
oracle below says exactly that, counting local dates with zoneinfo; it never calls
jcbot.core.calendar. The core is run through `evaluate`, as services and
`jcbot cycle simulate` run it.
"""
from __future__ import annotations

import functools
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jcbot.core.cycle import CHECK_OVERDUE, CaseStart, Check, InputConfirmed, evaluate
from jcbot.core.rules import rules_from_data

UTC = timezone.utc
MICRO = timedelta(microseconds=1)
# Zones whose days are not all 24 hours: DST at midnight (Santiago, Havana), half-hour DST
# (Lord Howe), +12:45 (Chatham), DST suspended for Ramadan (Casablanca), and plain ones.
ZONES = ["UTC", "Asia/Tokyo", "Asia/Ulaanbaatar", "Europe/Berlin", "America/New_York", "America/Santiago",
         "America/Havana", "Australia/Lord_Howe", "Pacific/Chatham", "Africa/Casablanca"]


# ---- the oracle ---------------------------------------------------------------------
def day_of(at: datetime, start: datetime, tz: ZoneInfo) -> int:
    """Which day of a period started at `start` the instant `at` falls on (day 0 = start's local date)."""
    return (at.astimezone(tz).date() - start.astimezone(tz).date()).days


def within(at: datetime, start: datetime, days: int, tz: ZoneInfo) -> bool:
    """Within a period of `days` calendar days from `start`."""
    return at >= start and day_of(at, start, tz) <= days


def local_midnight_guess(start: datetime, n: int, tz: ZoneInfo) -> datetime:
    """Near where the period ends (a wall-clock guess, only to aim the inputs at the edge)."""
    d: date = start.astimezone(tz).date() + timedelta(days=n)
    return datetime(d.year, d.month, d.day, tzinfo=tz).astimezone(UTC)


# ---- strategies ---------------------------------------------------------------------
instants = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2029, 12, 1), timezones=st.just(UTC))


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """Every instant at which the zone's UTC offset changes, 2015-2029, found by scanning."""
    tz = ZoneInfo(zone)
    offset = lambda at: at.astimezone(tz).utcoffset()  # noqa: E731
    out, t = [], datetime(2015, 1, 1, tzinfo=UTC)
    while t < datetime(2029, 12, 1, tzinfo=UTC):
        lo, hi = t, t + timedelta(days=1)  # no zone changes its offset twice within a day
        if offset(lo) != offset(hi):
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if offset(mid) == offset(lo) else (lo, mid)
            out.append(hi)
        t += timedelta(days=1)
    return tuple(out)


def start_for(data, zone: str, days: int, label: str) -> datetime:
    """A period's start: anywhere, or so that its last days hold an offset change (where a
    day is not 24 hours long and a wrong end would show)."""
    near = transitions(zone)
    if near and data.draw(st.booleans(), label=f"{label} near a transition"):
        anchor = data.draw(st.sampled_from(near), label=f"{label} transition")
        return anchor - timedelta(days=days) + timedelta(seconds=data.draw(st.integers(-2 * 86400, 2 * 86400)))
    return data.draw(instants, label=label)


def rules(zone: str, check_days: int, input_days: int):
    return rules_from_data({
        "timezone": zone, "membership": {"max_members_per_government": 10},
        "electronic_decision": {"objection_period_days": 20},
        "cycle": {"completeness_check_days": check_days, "methodology_public_input_days": input_days}})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), zone=st.sampled_from(ZONES), check_after=st.integers(0, 12 * 86400),
       check_days=st.integers(1, 15), input_days=st.integers(1, 45),
       spread=st.lists(st.integers(-2 * 86400, 50 * 86400), max_size=6),
       edge=st.lists(st.integers(-3 * 3600, 3 * 3600), max_size=6), micro=st.booleans())
def test_windows_and_inputs_follow_the_calendar(data, zone, check_after, check_days, input_days, spread, edge, micro):
    tz = ZoneInfo(zone)
    if data.draw(st.booleans(), label="aim at the inputs window"):
        check_at = start_for(data, zone, input_days, "check_at")
        submitted = check_at - timedelta(seconds=check_after)
    else:
        submitted = start_for(data, zone, check_days, "submitted")
        check_at = submitted + timedelta(seconds=check_after)
    edge_at = local_midnight_guess(check_at, input_days + 1, tz)
    times = [check_at + timedelta(seconds=s) for s in spread] + [edge_at + timedelta(seconds=s) for s in edge]
    if micro:  # the last microsecond before the guessed edge, and the edge itself
        times += [edge_at - MICRO, edge_at]
    times = [t for t in times if t >= submitted]
    events = [Check(check_at, True)] + [InputConfirmed(t, f"i{k}") for k, t in enumerate(times)]
    at = max([check_at, *times]) + timedelta(seconds=1)

    view = evaluate(CaseStart("methodology", "MN", submitted, seq=1), events, rules(zone, check_days, input_days), at)

    for name, start, days in (("completeness_check", submitted, check_days), ("public_inputs", check_at, input_days)):
        w = view.windows[name]
        assert w.start == start
        # The end is the first instant of day N+1: on day N+1 itself, the instant before on day N.
        assert day_of(w.end, start, tz) == days + 1, (name, w.end)
        assert day_of(w.end - MICRO, start, tz) == days, (name, w.end)
        for t in times:
            assert w.contains(t) == within(t, start, days, tz), (name, t)
    counted = {f"i{k}" for k, t in enumerate(times) if within(t, check_at, input_days, tz)}
    assert set(view.inputs_counted) == counted
    assert set(view.inputs_refused) == {f"i{k}" for k in range(len(times))} - counted
    assert view.state == ("public_inputs" if within(at, check_at, input_days, tz) else "awaiting_decision")


@settings(max_examples=300, deadline=None)
@given(data=st.data(), zone=st.sampled_from(ZONES), check_days=st.integers(1, 15),
       later=st.integers(0, 20 * 86400), edge=st.integers(-3 * 3600, 3 * 3600), near=st.booleans())
def test_a_check_is_overdue_exactly_after_its_window(data, zone, check_days, later, edge, near):
    tz = ZoneInfo(zone)
    submitted = start_for(data, zone, check_days, "submitted")
    at = (local_midnight_guess(submitted, check_days + 1, tz) + timedelta(seconds=edge) if near
          else submitted + timedelta(seconds=later))
    at = max(at, submitted)

    view = evaluate(CaseStart("methodology", "MN", submitted, seq=1), [], rules(zone, check_days, 15), at)

    assert view.state == "submitted"
    assert (view.duties == (CHECK_OVERDUE,)) is (not within(at, submitted, check_days, tz))
