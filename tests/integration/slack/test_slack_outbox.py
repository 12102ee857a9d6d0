"""Slack messages through the outbox: rate limits honoured, errors classified, announcements, shapes."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from jcbot.channels.slack.compose import SlackRenderer
from jcbot.channels.slack.sender import SlackSender
from jcbot.services import assertions, outgoing, proposals
from jcbot.services.context import Notice, Recipient
from jcbot.services.dispatcher import PermanentFailure, TemporaryFailure
from jcbot.store.outbox import OutboxMessage, Outgoing, slack_payload

from .helpers import CHANNEL, SLACK, all_text, dispatch, posted_to, settings_for


def rows(ctx) -> list[OutboxMessage]:
    with ctx.tx("test") as tx:
        return list(tx.session.exec(select(OutboxMessage).where(OutboxMessage.channel == "slack").order_by(OutboxMessage.id)))


async def test_a_429_is_retried_after_retry_after_and_not_dropped(ctx, ref, fake_slack):
    fake_slack.rate_limit_next("chat.postMessage", times=1, retry_after=7)
    await dispatch(ctx)
    [limited] = [r for r in rows(ctx) if r.status == "pending"]
    assert limited.last_error == "slack: ratelimited (HTTP 429)"
    assert limited.next_attempt_at == ctx.clock.now() + timedelta(seconds=7)
    ctx.clock.advance(timedelta(seconds=6))
    assert await dispatch(ctx) == 0  # not before Retry-After
    ctx.clock.advance(timedelta(seconds=1))
    assert await dispatch(ctx) == 1
    assert {r.status for r in rows(ctx)} == {"sent"}
    # Every member with a Slack id got exactly one distribution DM in the end.
    assert sorted(c.body["channel"] for c in fake_slack.calls("chat.postMessage")[1:]) == sorted(SLACK.values())


async def test_slack_errors_are_classified(ctx, fake_slack):
    sender = SlackSender(ctx.settings)
    message = Outgoing(1, "slack", "distribution", "U0GONE", "k", slack_payload("chat.postMessage", channel="U0GONE",
                                                                                text="hi"), 1)
    fake_slack.fail_next("chat.postMessage", "channel_not_found")
    with pytest.raises(PermanentFailure, match="slack: channel_not_found"):
        await sender.send(message)
    fake_slack.fail_next("chat.postMessage", "internal_error")
    with pytest.raises(TemporaryFailure, match="internal_error"):
        await sender.send(message)
    with pytest.raises(PermanentFailure, match="no 'method'"):
        await sender.send(Outgoing(2, "slack", "x", "U", "k2", {"message": "not slack"}, 1))
    await sender.send(message)
    # The metadata names the outbox message, so a resend after a crash can find this post.
    assert fake_slack.calls("chat.postMessage")[-1].body == {
        "channel": "U0GONE", "text": "hi", "metadata": {"event_type": "jcbot_notice", "event_payload": {"key": "k"}}}
    assert fake_slack.calls("chat.postMessage")[-1].token == "xoxb-jcbot-test"


async def test_a_permanent_failure_is_kept_as_failed_with_its_reason(ctx, ref, fake_slack):
    fake_slack.fail_next("chat.postMessage", "user_not_found", times=1)
    await dispatch(ctx)
    [failed] = [r for r in rows(ctx) if r.status == "failed"]
    assert failed.last_error == "slack: user_not_found"


async def test_adoption_is_announced_in_the_committee_channel(ctx, ref, fake_slack):
    for handle in ("tanaka", "bat", "sato", "suzuki", "dorj"):
        assertions.record_assertion(ctx, ref, handle, "affirmative", channel="cli", evidence_key=handle, actor="test")
    await dispatch(ctx)
    [announce] = posted_to(fake_slack, CHANNEL)
    assert announce["text"].startswith(f"{ref} adopted as decision MN-2026-")
    assert "unanimity" in all_text(announce["blocks"]) and "Efficient boilers [MN_AM" in all_text(announce["blocks"])
    adopted = [b for b in posted_to(fake_slack, SLACK["sato"]) if "adopted" in b["text"]]
    assert len(adopted) == 1


def test_without_a_channel_nothing_is_announced_and_a_member_without_slack_gets_nothing(fake_slack, tmp_path):
    settings = settings_for(fake_slack, tmp_path)
    bare = SlackRenderer(type(settings)({**settings.values, "slack_channel": None}))
    data = {"committee": {"timezone": "UTC", "name": "JC"}, "decision": {}, "proposal": {"ref": "R", "title": "T"}}
    assert bare.render(Notice("announce_adoption", "k", Recipient("#committee", "JC"), data)) == []
    assert SlackRenderer(settings).render(Notice("distribution", "k", Recipient("dorj", "Dorj"), data)) == []


def test_a_long_text_is_shortened_with_a_link(ctx, ref):
    proposals.revise(ctx, ref, "test", text="word " * 2000, by="tanaka")
    with ctx.tx("test") as tx:
        row = tx.session.exec(select(OutboxMessage).where(OutboxMessage.recipient == SLACK["sato"],
                                                         OutboxMessage.kind == "distribution")
                              .order_by(OutboxMessage.id.desc())).first()
    # The outbox holds the notice; the blocks are what the sender renders from it.
    [call] = SlackRenderer(ctx.settings).render(outgoing.from_payload(row.payload))
    blocks = call.payload["arguments"]["blocks"]
    text = all_text(blocks)
    assert f"<http://127.0.0.1:8080/answer/{ref}|Read the full text>" in text
    assert f"<http://127.0.0.1:8080/answer/{ref}|Read it and answer on the web>" in text
    assert all(len(b.get("text", {}).get("text", "")) <= 3000 for b in blocks)


async def test_reminders_and_the_digest_reach_slack(ctx, ref, fake_slack):
    from jcbot.services import reminders

    await dispatch(ctx)
    assertions.record_assertion(ctx, ref, "tanaka", "affirmative", channel="cli", evidence_key="t", actor="test")
    # Three days before the deadline (24 March 00:00 Ulaanbaatar), at 09:00 there: after the digest hour.
    ctx.clock.set(datetime(2026, 3, 21, 1, 0, tzinfo=UTC))
    assert reminders.send_reminders(ctx) > 0 and reminders.send_digests(ctx) > 0
    await dispatch(ctx)
    [reminder] = [b for b in posted_to(fake_slack, SLACK["sato"]) if b["text"].startswith("Reminder")]
    assert "3 days before the deadline" in all_text(reminder["blocks"])
    assert f"jc.affirm|{ref}|1" in [e["action_id"] for b in reminder["blocks"] if b["type"] == "actions"
                                     for e in b["elements"]]
    [seat] = [b for b in posted_to(fake_slack, SLACK["bat"]) if "seat has not affirmed" in b["text"]]
    assert "The *host* seat has not affirmed" in all_text(seat["blocks"])
    [digest] = [b for b in posted_to(fake_slack, SLACK["tanaka"]) if "pending on" in b["text"]]
    assert f"{ref} Approve methodology MN_AM005: open, 2." in all_text(digest["blocks"])
