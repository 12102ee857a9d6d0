"""A burst's seats read at once: identify_linked and committees_of give what their one-at-a-time forms give."""
from __future__ import annotations

import pytest

from jcbot.services import roster
from jcbot.services.context import ServiceError
from jcbot.services.queries import committee_of, committees_of
from jcbot.services.slack_identity import identify, identify_linked

from .helpers import SECRETARIAT, committee, distributed, tick, variant
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures


def test_identify_linked_is_identify_for_each_user(ctx):
    committee(ctx)  # co-chairs tanaka and bat, alternates sato and dorj, each linked to U<HANDLE>
    committee(ctx, slug="second-jc", japan=("tanaka", "ito"), host=("bat", "gan"), cochairs=("ito", "gan"),
              alternates=(("ito", "tanaka"),), text_=variant("japan-mongolia", **{"code: MN": "code: SJ"}))  # tanaka and bat sit on both, with other roles
    roster.add_secretariat(ctx, "Alice", SECRETARIAT, slack_user_id="UALICE")               # every committee
    roster.add_secretariat(ctx, "Bob", SECRETARIAT, slug="second-jc", slack_user_id="UBOB")  # one committee
    tick(ctx.clock)
    roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)  # left: no seat any more
    tick(ctx.clock)
    users = ["UTANAKA", "UBAT", "USATO", "UDORJ", "UITO", "USUZUKI", "UALICE", "UBOB", "UNOBODY"]

    together = identify_linked(ctx, users + ["UTANAKA"])  # a user clicking twice is read once

    assert together == {u: identify(ctx, u) for u in users}
    tanaka = together["UTANAKA"]
    assert [(s.slug, s.role) for s in tanaka.seats] == [("japan-mongolia", "cochair"), ("second-jc", "alternate")]
    assert together["USUZUKI"].known is False and together["UNOBODY"].known is False
    assert together["UALICE"].secretariat == (None,) and together["UBOB"].secretariat != ()


def test_committees_of_is_committee_of_for_each_ref(ctx):
    committee(ctx)
    ref = distributed(ctx)
    found = committees_of(ctx, [ref, "MN-P-2026-999"])
    assert found[ref] == committee_of(ctx, ref)
    with pytest.raises(ServiceError) as one:
        committee_of(ctx, "MN-P-2026-999")
    assert isinstance(found["MN-P-2026-999"], ServiceError) and str(found["MN-P-2026-999"]) == str(one.value)
