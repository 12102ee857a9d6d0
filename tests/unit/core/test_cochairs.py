"""Who acts for the co-chairs, and who receives every negative (PROCEDURE.md 1 and 7)."""
from __future__ import annotations

import pytest

from jcbot.core.cochairs import SECRETARIAT, acting_for_cochairs, escalation_recipients
from jcbot.core.errors import ProcedureError
from jcbot.core.roster import Roster

from tests.unit.core.helpers import at, rules

T0 = at("2026-04-01T09:00:00+09:00")


def _roster() -> Roster:
    ro = Roster(rules())
    for m, g in [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")]:
        ro = ro.add_member(m, g, T0)
    return ro.elect_cochair("japan", "tanaka", T0).elect_cochair("host", "bat", T0).designate_alternate("bat", "sato", T0)


def test_a_cochair_an_alternate_or_the_secretariat_acts():
    ro = _roster()
    assert acting_for_cochairs(ro, "tanaka", T0, "withdraw") == "tanaka"
    assert acting_for_cochairs(ro, "sato", T0, "withdraw") == "sato"  # bat's alternate, of the other government
    assert acting_for_cochairs(ro, None, T0, "withdraw") == SECRETARIAT


def test_a_member_without_a_seat_cannot_act():
    with pytest.raises(ProcedureError, match="oyun is neither a co-chair nor an active alternate, so cannot withdraw"):
        acting_for_cochairs(_roster(), "oyun", T0, "withdraw")


def test_negatives_go_to_both_cochairs_and_their_alternates_once():
    assert escalation_recipients(_roster(), T0) == ("tanaka", "bat", "sato")
    # An alternate who is also named by the other co-chair is listed once.
    ro = _roster().designate_alternate("tanaka", "sato", T0)
    assert escalation_recipients(ro, T0) == ("tanaka", "sato", "bat")
