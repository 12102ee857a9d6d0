"""Reminders and calendar duties."""
from __future__ import annotations

from datetime import date, timedelta

from jcbot.core.duties import calendar_duties, due_reminder
from jcbot.core.roster import Roster

from tests.unit.core.helpers import at, rules

DEADLINE = at("2026-03-24T00:00:00+09:00")


def test_no_reminder_before_the_first_mark_nor_from_the_deadline_on():
    assert due_reminder(DEADLINE, (7, 3, 1), DEADLINE - timedelta(days=8)) is None
    assert due_reminder(DEADLINE, (7, 3, 1), DEADLINE) is None


def test_the_latest_mark_reached_is_due():
    assert due_reminder(DEADLINE, (7, 3, 1), DEADLINE - timedelta(days=7)) == 7
    assert due_reminder(DEADLINE, (7, 3, 1), DEADLINE - timedelta(days=2)) == 3
    # After downtime across two marks, only the latest one.
    assert due_reminder(DEADLINE, (7, 3, 1), DEADLINE - timedelta(hours=1)) == 1


def _roster(term: str = "P1Y"):
    r = rules()
    r = r.model_copy(update={"cochairs": r.cochairs.model_copy(update={"term": term})})
    t0 = at("2026-01-10T09:00:00+09:00")
    ro = Roster(r).add_member("tanaka", "japan", t0).add_member("bat", "host", t0)
    return ro.elect_cochair("japan", "tanaka", t0).elect_cochair("host", "bat", t0)


def test_terms_ending_within_30_days_are_flagged_once_per_term():
    ro = _roster()
    assert calendar_duties(ro, date(2026, 6, 1), date(2026, 1, 1), at("2026-12-01T00:00:00+09:00")) == []
    duties = calendar_duties(ro, date(2026, 6, 1), date(2026, 1, 1), at("2026-12-20T00:00:00+09:00"))
    assert [d.kind for d in duties] == ["term_ending", "term_ending"]
    assert "ends on 2027-01-10" in duties[0].text


def test_an_ended_term_leaves_a_vacant_seat_to_flag():
    duties = calendar_duties(_roster("P1M"), date(2026, 1, 20), date(2026, 1, 1), at("2026-02-20T00:00:00+09:00"))
    assert {d.kind for d in duties} == {"seat_vacant"}
    assert "since 2026-02-10" in duties[0].text


def test_a_year_without_a_meeting_is_flagged():
    now = at("2026-12-20T00:00:00+09:00")
    assert [d.kind for d in calendar_duties(_roster("P2Y"), date(2025, 12, 1), date(2025, 1, 1), now)] == ["no_meeting"]
    assert calendar_duties(_roster("P2Y"), date(2026, 1, 2), date(2025, 1, 1), now) == []
