"""The evaluation of a proposal (PROCEDURE.md 1-8), directly against the core."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.core.decision import Assertion, Closure, check_assertion, distribute, evaluate
from jcbot.core.errors import AssertionRefused, DistributionRefused
from jcbot.core.roster import Roster

from tests.unit.core.helpers import at, rules

D = at("2026-03-02T23:30:00Z")          # 08:30 on 3 March in Tokyo (day 0)
DEADLINE = at("2026-03-24T00:00:00+09:00")
MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")]


def day(n: int, hh: int = 9, mm: int = 0, ss: int = 0):
    """An instant on day n of the period, Tokyo wall time."""
    return at(f"2026-03-03T{hh:02d}:{mm:02d}:{ss:02d}+09:00") + timedelta(days=n)


def setup(**opts):
    ro = Roster(rules(**opts))
    for m, g in MEMBERS:
        ro = ro.add_member(m, g, D)
    ro = ro.elect_cochair("japan", "tanaka", D).elect_cochair("host", "bat", D)
    return ro, distribute(ro, D)


def aff(m, t):
    return Assertion(m, "affirmative", t)


def neg(m, t, why="the baseline is too high"):
    return Assertion(m, "negative", t, why)


def verdict(assertions, now=None, ro=None, dist=None, closure=None, **opts):
    if ro is None:
        ro, dist = setup(**opts)
    return evaluate(dist, ro, assertions, now or DEADLINE + timedelta(days=30), closure)


def test_distribution_fixes_electorate_and_deadline():
    _, dist = setup()
    assert dist.electorate == ("tanaka", "sato", "bat", "oyun")
    assert dist.deadline == DEADLINE


def test_distribution_is_refused_while_a_seat_is_vacant():
    ro, _ = setup()
    ro = ro.remove_member("bat", D + timedelta(hours=1))
    with pytest.raises(DistributionRefused, match="the host co-chair seat is vacant"):
        distribute(ro, D + timedelta(hours=2))


def test_both_cochairs_affirm_on_day_1_adopted_at_the_deadline():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1, 10))])
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", DEADLINE)
    assert v.awaiting == ("sato", "oyun")


def test_before_the_deadline_it_is_open_and_says_when_it_can_change():
    v = verdict([aff("tanaka", day(1))], now=day(2))
    assert (v.status, v.adopted_at, v.next_change) == ("open", None, DEADLINE)
    assert v.awaiting == ("sato", "bat", "oyun")


def test_an_objection_in_the_last_second_of_the_period_counts():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1)), neg("oyun", day(20, 23, 59, 59))])
    assert (v.status, v.negatives, len(v.escalations)) == ("objected", ("oyun",), 1)


def test_an_objection_at_the_deadline_instant_is_outside_the_period():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1)), neg("oyun", DEADLINE)])
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", DEADLINE)
    assert v.negatives == () and len(v.escalations) == 1  # still escalated


def test_a_cochair_affirming_late_adopts_at_that_assertion():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(25))])
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", day(25))


def test_period_over_awaiting_a_cochair_is_open():
    v = verdict([aff("tanaka", day(1))], now=day(22))
    assert (v.status, v.next_change) == ("open", None)


def test_everybody_affirms_on_day_4_unanimous_at_the_last_assertion():
    v = verdict([aff("tanaka", day(1)), aff("sato", day(2)), aff("bat", day(3)), aff("oyun", day(4))])
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "unanimous", day(4))


def test_unanimity_completing_at_the_deadline_instant_gives_basis_unanimous():
    v = verdict([aff("tanaka", day(1)), aff("sato", day(2)), aff("bat", day(3)), aff("oyun", DEADLINE)])
    assert (v.basis, v.adopted_at) == ("unanimous", DEADLINE)


def test_an_objector_who_later_affirms_counts_for_unanimity_but_blocks_no_objection():
    v = verdict([neg("oyun", day(1)), aff("tanaka", day(2)), aff("sato", day(2)), aff("bat", day(2))], now=day(10))
    assert v.status == "objected"
    v = verdict([neg("oyun", day(1)), aff("tanaka", day(2)), aff("sato", day(2)), aff("bat", day(2)), aff("oyun", day(30))])
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "unanimous", day(30))


def test_withdrawn_negative_stops_counting_under_the_option():
    facts = [neg("oyun", day(1)), aff("oyun", day(2)), aff("tanaka", day(3)), aff("bat", day(3))]
    assert verdict(facts).status == "objected"
    v = verdict(facts, withdrawn_negative_counts=False)
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", DEADLINE)


def test_cochairs_must_affirm_within_period_makes_it_lapse():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(25))], cochairs_must_affirm_within_period=True)
    assert (v.status, v.lapsed_at, v.adopted_at) == ("lapsed", DEADLINE, None)
    # Unanimity before the deadline still adopts.
    v = verdict([aff(m, day(2)) for m, _ in MEMBERS], cochairs_must_affirm_within_period=True)
    assert (v.status, v.basis) == ("adopted", "unanimous")


def test_a_negative_is_not_lapsed_but_objected_under_that_option():
    v = verdict([aff("tanaka", day(1)), neg("sato", day(2))], cochairs_must_affirm_within_period=True)
    assert v.status == "objected"


def test_exact_period_ends_n_times_24_hours_later():
    ro, dist = setup(period_ends="exact")
    assert dist.deadline == D + timedelta(days=20)


def test_adoption_is_final_later_assertions_are_kept_and_ignored():
    v = verdict([aff(m, day(2)) for m, _ in MEMBERS] + [neg("oyun", day(3))])
    assert (v.status, v.adopted_at) == ("adopted", day(2))
    # The positions are those that counted; the later negative is in the record and escalated.
    assert v.positions["oyun"] == "affirmative" and len(v.escalations) == 1
    assert any(s.kind == "ignored" for s in v.trace)


def test_an_alternate_asserts_for_the_seat():
    ro, dist = setup()
    ro = ro.designate_alternate("bat", "oyun", day(1))
    v = verdict([aff("tanaka", day(1)), aff("oyun", day(2))], ro=ro, dist=dist)
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "no_objection", DEADLINE)
    assert v.seat_positions == {"japan": "affirmative", "host": "affirmative"}


def test_a_revoked_alternate_asserts_only_for_themself():
    ro, dist = setup()
    ro = ro.designate_alternate("bat", "oyun", day(1)).revoke_alternate("bat", day(2))
    v = verdict([aff("tanaka", day(1)), aff("oyun", day(3))], ro=ro, dist=dist)
    assert (v.status, v.seat_positions["host"]) == ("open", None)


def test_the_seats_position_is_its_latest_assertion():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1)), Assertion("bat", "negative", day(30), "changed my mind")])
    assert v.adopted_at == DEADLINE  # adopted before the change
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1)), aff("sato", day(2)), neg("bat", day(3))], now=day(40))
    assert v.status == "objected" and v.seat_positions["host"] == "negative"


def test_a_departure_can_complete_unanimity():
    ro, dist = setup()
    facts = [aff("tanaka", day(1)), aff("sato", day(1)), aff("bat", day(1))]
    ro = ro.remove_member("oyun", day(5))
    v = verdict(facts, ro=ro, dist=dist)
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "unanimous", day(5))
    assert v.awaiting == ()


def test_closure_before_adoption_is_the_status():
    v = verdict([neg("oyun", day(1))], closure=Closure("withdrawn", day(3)))
    assert v.status == "withdrawn" and v.next_change is None


def test_the_trace_says_why():
    v = verdict([aff("tanaka", day(1)), aff("bat", day(1)), neg("oyun", day(20, 23, 59, 59))])
    kinds = [s.kind for s in v.trace]
    assert kinds == ["distributed", "assertion", "assertion", "assertion", "deadline"]
    assert "counts against no-objection" in v.trace[3].text
    assert "negatives counting: oyun" in v.trace[4].text


@pytest.mark.parametrize(
    ("member", "position", "when", "opinion", "message"),
    [
        ("ghost", "affirmative", day(1), None, "ghost is not a member of the JC"),
        ("tanaka", "maybe", day(1), None, "'affirmative' or 'negative'"),
        ("tanaka", "affirmative", D - timedelta(seconds=1), None, "before the distribution"),
        ("oyun", "negative", day(1), "  ", "must carry the member's opinion"),
    ],
)
def test_refused_assertions_name_the_member_and_the_reason(member, position, when, opinion, message):
    ro, dist = setup()
    with pytest.raises(AssertionRefused, match=message):
        check_assertion(dist, ro, member, position, when, opinion)


def test_members_who_joined_after_distribution_or_left_cannot_assert():
    ro, dist = setup()
    ro = ro.add_member("ito", "japan", day(1)).remove_member("sato", day(2))
    with pytest.raises(AssertionRefused, match="ito was not a member of the JC when it was distributed"):
        check_assertion(dist, ro, "ito", "affirmative", day(3))
    with pytest.raises(AssertionRefused, match="sato is no longer an active member"):
        check_assertion(dist, ro, "sato", "affirmative", day(3))


def test_assertions_after_closure_are_refused():
    ro, dist = setup()
    with pytest.raises(AssertionRefused, match="was withdrawn"):
        check_assertion(dist, ro, "sato", "affirmative", day(3), closure=Closure("withdrawn", day(2)))


# --- admit: may this assertion be recorded now? (PROCEDURE 3, 6, 7) ---------------------

def test_admit_a_negative_within_the_period_escalates_and_counts():
    from jcbot.core.decision import admit

    ro, dist = setup()
    a = admit(dist, ro, [], "sato", "negative", day(19, 23, 59), day(20), "too high")
    assert (a.ignored, a.escalate, a.within_period) == (False, True, True)
    late = admit(dist, ro, [], "sato", "negative", DEADLINE, DEADLINE, "too high")
    assert (late.escalate, late.within_period) == (True, False)


def test_admit_after_a_settled_outcome_is_recorded_but_ignored():
    from jcbot.core.decision import admit

    ro, dist = setup()
    seats = [aff("tanaka", day(1)), aff("bat", day(1))]
    a = admit(dist, ro, seats, "sato", "negative", DEADLINE + timedelta(hours=1), DEADLINE + timedelta(hours=1), "late")
    assert (a.ignored, a.escalate, a.within_period) == (True, True, False)


def test_admit_refuses_what_would_rewrite_a_settled_outcome_or_the_future():
    from jcbot.core.decision import admit

    ro, dist = setup()
    seats = [aff("tanaka", day(1)), aff("bat", day(1))]
    # Adopted at the deadline: a letter dated before it cannot be added afterwards (PROCEDURE 6).
    with pytest.raises(AssertionRefused, match="was adopted at .* an assertion dated before that"):
        admit(dist, ro, seats, "sato", "negative", day(19), DEADLINE + timedelta(days=1), "by post")
    with pytest.raises(AssertionRefused, match="in the future"):
        admit(dist, ro, [], "sato", "affirmative", day(3), day(2))
    closed = Closure("withdrawn", day(2))
    with pytest.raises(AssertionRefused, match="was withdrawn"):
        admit(dist, ro, [], "sato", "affirmative", day(3), day(3), closure=closed)
    with pytest.raises(AssertionRefused, match="must carry the member's opinion"):
        admit(dist, ro, [], "sato", "negative", day(3), day(3), "  ")
