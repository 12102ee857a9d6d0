"""The calendar: deadlines in the committee's zone, DST, exact periods, terms."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from jcbot.core.calendar import add_term, local_date, period_day, period_deadline, start_of_day
from jcbot.core.rules import TermLength

from tests.unit.core.helpers import at, rules

UTC = timezone.utc


def deadline(when: str, tz: str = "Asia/Tokyo", days: int = 20, **opts) -> datetime:
    r = rules(tz, days, **opts)
    return period_deadline(at(when), r.electronic_decision, r.tz)


def test_the_worked_example_deadline():
    # PROCEDURE.md: distributed 2026-03-02 23:30 UTC = 08:30 on 3 March in Tokyo.
    d = deadline("2026-03-02T23:30:00Z")
    assert d == at("2026-03-24T00:00:00+09:00") == at("2026-03-23T15:00:00Z")


def test_day_zero_is_the_local_date_not_the_utc_date():
    # 14:59 UTC on 2 March is 23:59 in Tokyo (day 0 = 2 March); a minute later it is 3 March.
    assert deadline("2026-03-02T14:59:00Z") == at("2026-03-23T00:00:00+09:00")
    assert deadline("2026-03-02T15:00:00Z") == at("2026-03-24T00:00:00+09:00")


def test_the_last_second_of_day_n_is_within_and_the_deadline_is_not():
    d = deadline("2026-03-02T23:30:00Z")
    r = rules()
    assert period_day(d - timedelta(seconds=1), at("2026-03-02T23:30:00Z"), r.tz) == 20
    assert period_day(d, at("2026-03-02T23:30:00Z"), r.tz) == 21


def test_exact_period_is_n_times_24_hours_even_across_dst():
    d = deadline("2026-03-01T12:00:00-05:00", "America/New_York", 20, period_ends="exact")
    assert d - at("2026-03-01T12:00:00-05:00") == timedelta(days=20)
    # Wall clock moved: 24 h x 20 after a spring-forward lands at 13:00 local.
    assert d.astimezone(ZoneInfo("America/New_York")).hour == 13


def test_calendar_days_across_spring_forward_end_at_local_midnight():
    # New York springs forward on 8 March 2026; the period still ends at local midnight.
    d = deadline("2026-03-01T12:00:00-05:00", "America/New_York", 20)
    local = d.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (date(2026, 3, 22), 0, 0)
    assert local.utcoffset() == timedelta(hours=-4)


def test_calendar_days_across_fall_back():
    # Berlin falls back at 03:00 on 25 October 2026: that midnight is still +02:00.
    assert deadline("2026-10-20T09:00:00+02:00", "Europe/Berlin", 4) == at("2026-10-25T00:00:00+02:00")
    assert deadline("2026-10-20T09:00:00+02:00", "Europe/Berlin", 10) == at("2026-10-31T00:00:00+01:00")
    d = deadline("2026-10-20T09:00:00+02:00", "Europe/Berlin", 20)
    assert d == at("2026-11-10T00:00:00+01:00")


def test_a_day_whose_midnight_is_skipped_starts_at_the_transition():
    # Santiago springs forward at 24:00 on 5 September 2026: 6 September starts at 01:00 -03.
    tz = ZoneInfo("America/Santiago")
    first = start_of_day(date(2026, 9, 6), tz)
    assert first == at("2026-09-06T04:00:00Z")
    assert first.astimezone(tz).hour == 1
    assert local_date(first - timedelta(seconds=1), tz) == date(2026, 9, 5)


def test_a_day_after_a_repeated_hour_starts_at_its_only_midnight():
    tz = ZoneInfo("America/Santiago")  # falls back from 24:00 to 23:00 on 4 April 2026
    assert start_of_day(date(2026, 4, 5), tz) == at("2026-04-05T00:00:00-04:00")


def test_lord_howe_half_hour_dst():
    tz = ZoneInfo("Australia/Lord_Howe")
    day = date(2026, 10, 4)  # clocks go from 02:00 to 02:30
    assert start_of_day(day, tz).astimezone(tz).replace(tzinfo=None) == datetime(2026, 10, 4)


def test_naive_instants_are_refused():
    r = rules()
    with pytest.raises(ValueError, match="no UTC offset"):
        period_deadline(datetime(2026, 3, 2, 10), r.electronic_decision, r.tz)


@pytest.mark.parametrize(
    ("start", "term", "end"),
    [
        ("2026-04-01T10:00:00+09:00", TermLength(1), "2027-04-01T10:00:00+09:00"),
        ("2028-02-29T10:00:00+09:00", TermLength(1), "2029-02-28T10:00:00+09:00"),
        ("2026-08-31T10:00:00+09:00", TermLength(0, 6), "2027-02-28T10:00:00+09:00"),
        ("2026-03-01T09:00:00-05:00", TermLength(0, 1), "2026-04-01T09:00:00-04:00"),
        ("2026-01-01T00:00:00+00:00", TermLength(0, 0, 14), "2026-01-15T00:00:00+00:00"),
    ],
)
def test_terms_end_on_the_calendar(start, term, end):
    tz = ZoneInfo("Asia/Tokyo") if "+09:00" in start else ZoneInfo("America/New_York") if "-05:00" in start else ZoneInfo("UTC")
    assert add_term(at(start), term, tz) == at(end)
