"""The roster's invariants (PROCEDURE.md, The committee)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.core.errors import RosterError
from jcbot.core.roster import Roster

from tests.unit.core.helpers import at, rules

T0 = at("2026-04-01T09:00:00+09:00")


def roster(cap: int = 3, term: str | None = None) -> Roster:
    r = rules(cap=cap)
    if term:
        r = r.model_copy(update={"cochairs": r.cochairs.model_copy(update={"term": term})})
    ro = Roster(r)
    for m, g in [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")]:
        ro = ro.add_member(m, g, T0)
    return ro.elect_cochair("japan", "tanaka", T0).elect_cochair("host", "bat", T0)


def test_the_cap_counts_active_members_of_one_government_and_names_them():
    ro = roster(cap=3).add_member("suzuki", "japan", T0)
    with pytest.raises(RosterError, match=r"japan already has 3 active members, the cap is 3"):
        ro.add_member("ito", "japan", T0)
    # The other government is not affected, and a departure frees a place.
    ro.add_member("tuya", "host", T0)
    ro = ro.remove_member("sato", T0 + timedelta(days=1))
    assert "ito" in ro.add_member("ito", "japan", T0 + timedelta(days=1)).active_members(T0 + timedelta(days=1))


def test_a_refused_change_changes_nothing():
    ro = roster(cap=2)
    with pytest.raises(RosterError):
        ro.add_member("ito", "japan", T0)
    assert ro.active_members(T0) == ("tanaka", "sato", "bat", "oyun")


def test_a_member_cannot_be_designated_twice_or_by_an_unknown_government():
    with pytest.raises(RosterError, match="already an active member"):
        roster().add_member("sato", "japan", T0)
    with pytest.raises(RosterError, match="'japan' or 'host'"):
        roster().add_member("x", "korea", T0)


def test_a_seat_holder_must_be_an_active_member_of_that_seats_government():
    with pytest.raises(RosterError, match="a member of the host government, the seat needs a member of the japan"):
        roster().elect_cochair("japan", "oyun", T0)
    with pytest.raises(RosterError, match="not an active member"):
        roster().elect_cochair("japan", "nobody", T0)


def test_a_term_lasts_the_rules_term_then_the_seat_is_vacant():
    ro = roster(term="P6M")
    end = at("2026-10-01T09:00:00+09:00")
    assert ro.holder("japan", end - timedelta(seconds=1)) == "tanaka"
    assert ro.holder("japan", end) is None
    assert ro.vacant_seats(end) == ("japan", "host")


def test_a_new_election_replaces_the_holder():
    t = T0 + timedelta(days=30)
    ro = roster().elect_cochair("japan", "sato", t)
    assert ro.holder("japan", t - timedelta(seconds=1)) == "tanaka"
    assert ro.holder("japan", t) == "sato"


def test_a_co_chair_who_leaves_leaves_the_seat_vacant():
    t = T0 + timedelta(days=3)
    ro = roster().remove_member("bat", t)
    assert ro.holder("host", t) is None and ro.holder("host", T0) == "bat"


def test_an_alternate_is_not_the_cochair_themself_nor_the_other_cochair():
    ro = roster()
    with pytest.raises(RosterError, match="cannot designate themselves"):
        ro.designate_alternate("tanaka", "tanaka", T0)
    with pytest.raises(RosterError, match="bat is the other co-chair"):
        ro.designate_alternate("tanaka", "bat", T0)
    with pytest.raises(RosterError, match="does not hold a co-chair seat"):
        ro.designate_alternate("sato", "oyun", T0)
    with pytest.raises(RosterError, match="not an active member"):
        ro.designate_alternate("tanaka", "ghost", T0)


def test_an_alternate_may_come_from_either_government_and_speaks_for_the_seat():
    ro = roster().designate_alternate("tanaka", "oyun", T0)
    assert ro.alternate("japan", T0) == "oyun"
    assert ro.seats_spoken_for("oyun", T0) == ("japan",)
    assert ro.seats_spoken_for("tanaka", T0) == ("japan",)


def test_one_alternate_per_cochair_a_new_designation_replaces_the_old():
    t = T0 + timedelta(days=1)
    ro = roster().designate_alternate("tanaka", "sato", T0).designate_alternate("tanaka", "oyun", t)
    assert ro.alternate("japan", T0) == "sato"
    assert ro.alternate("japan", t) == "oyun"


@pytest.mark.parametrize("ending", ["revoke", "term", "alternate_leaves", "cochair_leaves", "new_election", "becomes_other_cochair"])
def test_a_designation_ends_when_procedure_md_says(ending):
    t = T0 + timedelta(days=5)
    ro = roster(term="P1M").designate_alternate("bat", "sato", T0) if ending == "becomes_other_cochair" else roster(term="P1M").designate_alternate("tanaka", "sato", T0)
    seat = "host" if ending == "becomes_other_cochair" else "japan"
    if ending == "revoke":
        ro = ro.revoke_alternate("tanaka", t)
    elif ending == "term":
        t = at("2026-05-01T09:00:00+09:00")
    elif ending == "alternate_leaves":
        ro = ro.remove_member("sato", t)
    elif ending == "cochair_leaves":
        ro = ro.remove_member("tanaka", t)
    elif ending == "new_election":
        ro = ro.elect_cochair("japan", "tanaka", t)  # a re-election starts a new term
    else:
        ro = ro.elect_cochair("japan", "sato", t)  # the alternate becomes the other co-chair
    assert ro.alternate(seat, t - timedelta(seconds=1)) == "sato"
    assert ro.alternate(seat, t) is None


def test_revoking_without_an_alternate_is_an_error():
    with pytest.raises(RosterError, match="no alternate to revoke"):
        roster().revoke_alternate("tanaka", T0)


def test_changes_must_come_in_time_order():
    with pytest.raises(RosterError, match="time order"):
        roster().add_member("ito", "japan", T0 - timedelta(seconds=1))


def test_departures_are_reported_in_time_order():
    ro = roster().remove_member("oyun", T0 + timedelta(days=2)).remove_member("sato", T0 + timedelta(days=3))
    # (instant, roster change number, member): 6 changes set the roster up, then two departures.
    assert ro.departures(("sato", "oyun"), T0) == ((T0 + timedelta(days=2), 7, "oyun"), (T0 + timedelta(days=3), 8, "sato"))
