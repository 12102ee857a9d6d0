"""The audit record after a whole committee's life through the services: it verifies, and tampering is named."""
from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text

from jcbot.services import proposals, roster, sweep
from jcbot.services.assertions import record_assertion
from jcbot.services.meetings import MeetingDecision, record_meeting
from jcbot.store import audit
from jcbot.store.db import session_scope

from .helpers import ITEMS, MN_DEADLINE, SECRETARIAT, T0, audit_actions, committee, distributed, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures


def _verify(engine) -> audit.VerifyResult:
    with session_scope(engine) as s:
        return audit.verify(s)


def _life(ctx) -> dict[str, str]:
    """Every kind of change once: roster, proposals (all outcomes), assertions, sweep, meeting."""
    committee(ctx)
    roster.revoke_alternate(ctx, "japan-mongolia", "bat", SECRETARIAT)
    roster.update_member(ctx, "japan-mongolia", "sato", SECRETARIAT, email="sato@env.go.jp")
    unanimous, no_objection, withdrawn, referred = (distributed(ctx, title=f"P{i}", at=T0 + timedelta(minutes=i))
                                                   for i in range(4))
    tick(ctx.clock)

    def say(ref, member, position="affirmative", **kw):
        tick(ctx.clock)
        kw.setdefault("channel", "email")
        record_assertion(ctx, ref, member, position, evidence_key=f"{ref}/{member}/{ctx.clock.now()}",
                         actor=f"{kw['channel']}:{member}", **kw)

    for m in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"):
        say(unanimous, m)
    say(no_objection, "tanaka")
    say(no_objection, "bat", channel="letter", note="letter of 4 March")
    say(withdrawn, "suzuki", "negative", opinion="Wrong baseline.")
    proposals.withdraw(ctx, withdrawn, SECRETARIAT, by="tanaka")
    proposals.revise(ctx, referred, SECRETARIAT, text="Second version.")
    say(referred, "tsetseg", "negative", opinion="Still wrong.")
    proposals.refer(ctx, referred, SECRETARIAT)
    ctx.clock.set(MN_DEADLINE + timedelta(days=10))
    assert sweep.sweep(ctx).changed == [(no_objection, "adopted")]
    record_meeting(ctx, "japan-mongolia", "3rd JC", ctx.clock.now().date(), "Tokyo",
                   [MeetingDecision("Adopt it", "By consensus.", ITEMS, referred)], SECRETARIAT)
    tick(ctx.clock)
    roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)
    return {"unanimous": unanimous, "no_objection": no_objection}


def test_every_change_is_chained_and_the_chain_verifies(ctx, engine):
    _life(ctx)
    actions = audit_actions(engine)
    for action in ("committee.created", "roster.add_member", "roster.elect_cochair", "roster.designate_alternate",
                   "roster.revoke_alternate", "roster.remove_member", "member.updated", "proposal.drafted",
                   "proposal.distributed", "assertion.recorded", "proposal.adopted", "proposal.status",
                   "proposal.withdrawn", "proposal.revised", "proposal.referred", "decision.recorded",
                   "meeting.recorded"):
        assert action in actions, action
    result = _verify(engine)
    assert (result.ok, result.count, result.first_broken) == (True, len(actions), None)


def test_a_row_edited_by_hand_is_named(ctx, engine):
    _life(ctx)
    with engine.begin() as conn:
        event_id, data = conn.execute(text(
            "SELECT id, data FROM audit_event WHERE action = 'assertion.recorded' ORDER BY id LIMIT 1")).one()
        forged = json.loads(data) | {"position": "negative"}
        conn.execute(text("UPDATE audit_event SET data = :d WHERE id = :i"),
                     {"d": json.dumps(forged, sort_keys=True, separators=(",", ":")), "i": event_id})
    result = _verify(engine)
    assert not result.ok
    assert result.first_broken == (event_id, "content does not match its hash (edited after it was recorded)")


def test_a_row_deleted_by_hand_is_named(ctx, engine):
    _life(ctx)
    with engine.begin() as conn:
        victim = conn.execute(text("SELECT id FROM audit_event WHERE action = 'proposal.withdrawn'")).scalar_one()
        conn.execute(text("DELETE FROM audit_event WHERE id = :i"), {"i": victim})
    result = _verify(engine)
    assert result.first_broken[0] == victim and "is missing" in result.first_broken[1]
