"""Channels show the core's "within the period", never their own comparison.

A negative received on the period's last evening in Tokyo carries a +09:00 offset; the
deadline is stored in UTC. Compared as ISO strings ("2026-03-24T00:30+09:00" sorts after
"2026-03-23T16:00Z") it looked "after the period" to the co-chairs on Slack, though as
instants it is half an hour before the deadline and counts against adoption.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jcbot.channels.email.compose import EmailRenderer
from jcbot.channels.slack.compose import SlackRenderer
from jcbot.services import outgoing
from jcbot.services.assertions import record_assertion
from jcbot.settings import load_settings

from .helpers import MN_DEADLINE, committee, distributed, new_context, outbox_rows
from .helpers import clock, engine  # noqa: F401 - fixtures

TOKYO = ZoneInfo("Asia/Tokyo")


def _context(engine, clock, tmp_path):
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SECRET": "s" * 32,
                                  "JCBOT_SLACK_BOT_TOKEN": "xoxb-test", "JCBOT_MAIL_FROM": "jcbot@jc.example"},
                             dotenv=None)
    return new_context(engine, clock, tmp_path, [EmailRenderer(settings), SlackRenderer(settings)])


def _escalations(ctx, channel: str) -> str:
    """What the escalations say on `channel`, rendered as the dispatcher renders them."""
    [renderer] = [r for r in ctx.renderers if r.channel == channel]
    return "\n".join(str(r.payload) for m in outbox_rows(ctx.engine, "escalation", channel)
                     for r in renderer.render(outgoing.from_payload(m.payload)))


def test_a_negative_on_the_last_evening_in_tokyo_is_shown_within_the_period(engine, clock, tmp_path):
    ctx = _context(engine, clock, tmp_path)
    committee(ctx)
    ref = distributed(ctx)
    received = datetime(2026, 3, 24, 0, 30, tzinfo=TOKYO)  # 15:30 UTC: 30 minutes before the deadline
    assert received < MN_DEADLINE and received.isoformat() > MN_DEADLINE.isoformat()
    ctx.clock.set(MN_DEADLINE + timedelta(minutes=5))  # dated by the mail server, handled just after
    done = record_assertion(ctx, ref, "suzuki", "negative", channel="email", opinion="Not yet.", at=received,
                            evidence_key="<late-evening@jc.example>", actor="email:suzuki")
    assert done.verdict.counting_negatives == ("suzuki",)
    slack, email = _escalations(ctx, "slack"), _escalations(ctx, "email")
    assert "within the period" in slack and "after the period" not in slack
    assert "within the period" in email and "after the deadline" not in email


def test_a_negative_after_the_deadline_is_shown_after_the_period(engine, clock, tmp_path):
    ctx = _context(engine, clock, tmp_path)
    committee(ctx)
    ref = distributed(ctx)
    ctx.clock.set(MN_DEADLINE + timedelta(hours=1))
    late = datetime(2026, 3, 24, 1, 30, tzinfo=TOKYO)  # 16:30 UTC: after the deadline
    record_assertion(ctx, ref, "suzuki", "negative", channel="email", opinion="Not yet.", at=late,
                     evidence_key="<too-late@jc.example>", actor="email:suzuki")
    slack, email = _escalations(ctx, "slack"), _escalations(ctx, "email")
    assert "after the period" in slack and "within the period" not in slack
    assert "after the deadline" in email and "within the period" not in email
