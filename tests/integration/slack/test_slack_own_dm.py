"""A click changes a message only in the clicker's own DM with jcbot (conversations.open names it)."""
from __future__ import annotations

from .helpers import SLACK, shown


def in_dm_of(owner: str) -> dict:
    return {"type": "message", "channel_id": f"D{SLACK[owner]}", "message_ts": "1700000000.000009", "is_ephemeral": False}


async def test_a_click_naming_another_members_dm_records_but_updates_nothing(ctx, ref, fake_slack, slack_http):
    # Regression: sato's click named tanaka's DM and jcbot rewrote tanaka's message.
    click = slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1", container=in_dm_of("tanaka"))
    assert (await slack_http.interact(click)).status_code == 200
    [told] = await fake_slack.wait_for_async("chat.postMessage")
    assert told.body["channel"] == SLACK["sato"] and "your position is affirmative" in told.body["text"]
    assert not fake_slack.calls("chat.update") and not fake_slack.calls("chat.postEphemeral")
    assert [(a.member, a.position) for a in shown(ctx, ref).assertions] == [("sato", "affirmative")]
    # From the member's own DM, the message is updated (its id asked of Slack once, then remembered).
    await slack_http.interact(slack_http.click(SLACK["sato"], f"jc.object|{ref}|1", container=in_dm_of("sato")))
    opened = (await fake_slack.wait_for_async("views.open"))[0].body["view"]
    await slack_http.interact(slack_http.submission(SLACK["sato"], opened, {"opinion": "Too high."}))
    [update] = await fake_slack.wait_for_async("chat.update")
    assert update.body["channel"] == f"D{SLACK['sato']}"


async def test_a_cochairs_click_naming_another_dm_is_answered_in_their_own(ctx, ref, fake_slack, slack_http):
    click = slack_http.click(SLACK["bat"], f"jc.leave_open|{ref}|1", [{"type": "section", "block_id": "x"}],
                             container=in_dm_of("sato"))
    await slack_http.interact(click)
    [told] = await fake_slack.wait_for_async("chat.postMessage")
    assert told.body["channel"] == SLACK["bat"] and "left open" in told.body["text"]
    assert not fake_slack.calls("chat.update")
