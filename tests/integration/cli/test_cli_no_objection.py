"""`jcbot evaluate` after the deadline adopts by no objection, at the deadline.

The CLI reads the machine's clock and has no way to set it: a hidden clock setting would
be a back door into the record of a running jcbot. So the past (roster, distribution,
the co-chairs' assertions three days ago) is recorded through the same services and the
same composition root with a ManualClock on the same database, and the CLI then
evaluates at the real now, which truly is two days after the 1-day deadline.
"""
from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jcbot.app import build_context
from jcbot.clock import ManualClock
from jcbot.services import proposals, roster
from jcbot.services.assertions import record_assertion
from jcbot.settings import load_settings

SHORT = """\
# A one-day period ending exactly 24 h after distribution.
timezone: Asia/Ulaanbaatar
committee: {name: Japan-Mongolia JC (short), host_country: Mongolia, code: MS}
membership: {max_members_per_government: 10}
electronic_decision: {objection_period_days: 1, period_ends: exact}
"""


def _three_days_ago() -> tuple[datetime, str]:
    """Record the committee's past through the services; returns (distributed_at, ref)."""
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    env = {k: v for k, v in os.environ.items() if k.startswith("JCBOT_")}
    ctx = build_context(load_settings(env=env, dotenv=None), clock=ManualClock(past))
    try:
        for handle, gov in (("tanaka", "japan"), ("bat", "host"), ("sato", "host")):
            roster.add_member(ctx, "jm-short", handle, gov, "test", email=f"{handle}@jc.example")
        roster.elect_cochair(ctx, "jm-short", "japan", "tanaka", "test")
        roster.elect_cochair(ctx, "jm-short", "host", "bat", "test")
        p = proposals.draft(ctx, "jm-short", "Approve MS_AM001", "Text.",
                            [proposals.Item("methodology_approval", "Boilers")], "test")
        proposals.distribute(ctx, p.ref, "test")
        ctx.clock.advance(timedelta(hours=1))
        for m in ("tanaka", "bat"):  # sato never answers: no unanimity, no objection
            record_assertion(ctx, p.ref, m, "affirmative", channel="email", evidence_key=f"<{m}@x>", actor="test")
    finally:
        ctx.engine.dispose()
    return past, p.ref


def test_evaluate_after_the_deadline_adopts_at_the_deadline(jcbot, tmp_path):
    rules = tmp_path / "rules" / "short.yaml"
    rules.parent.mkdir()
    rules.write_text(SHORT, encoding="utf-8")
    assert "code MS" in jcbot("committee", "create", "jm-short", "--rules", str(rules)).stdout
    distributed_at, ref = _three_days_ago()
    deadline = distributed_at + timedelta(days=1)

    (view,) = json.loads(jcbot("pending", "--json").stdout)["proposals"]
    # Every reader shows the core's verdict now (adopted at the deadline), though only the
    # sweep that `evaluate` runs records it.
    assert (view["ref"], view["status"], view["awaiting"]) == (ref, "adopted", ["sato"])
    assert jcbot.sql("SELECT status FROM proposal_version") == [("open",)]
    assert view["days_left"] < -1.9
    assert view["deadline"] == deadline.astimezone(ZoneInfo("Asia/Ulaanbaatar")).isoformat()

    out = jcbot("evaluate").stdout
    assert out == f"examined 1 open proposal(s)\n  {ref}: adopted\n"
    shown = json.loads(jcbot("proposal", "show", ref, "--json").stdout)
    assert (shown["status"], shown["basis"]) == ("adopted", "no_objection")
    assert datetime.fromisoformat(shown["adopted_at"]) == deadline  # the deadline, not the evaluation
    year = deadline.astimezone(ZoneInfo("Asia/Ulaanbaatar")).year
    assert jcbot.sql("SELECT number, adopted_at FROM decision")[0][0] == f"MS-{year}-001"
    assert [i["reference"] for i in shown["items"]] == ["MS_AM001"]
    assert jcbot.sql("SELECT count(*) FROM outbox_message WHERE kind = 'adoption'")[0][0] == 3

    before = jcbot.counts()
    assert jcbot("evaluate").stdout == "examined 0 open proposal(s)\n"
    assert jcbot.counts() == before

    # A proposal well within its period: `evaluate` examines every open proposal, as its
    # help says, not only those past a deadline, and changes nothing.
    fresh = jcbot("proposal", "draft", "jm-short", "--title", "Register MS001", "--text", "Text.",
                  "--item", "project_registration:Solar").stdout.split()[1]
    jcbot("proposal", "distribute", fresh)
    before = jcbot.counts()
    assert jcbot("evaluate").stdout == "examined 1 open proposal(s)\n"
    assert jcbot.counts() == before
    assert jcbot("audit", "verify").stdout.startswith("audit chain ok: ")
