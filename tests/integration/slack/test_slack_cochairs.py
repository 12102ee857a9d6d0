"""The co-chairs answer an escalation from Slack: withdraw, refer, leave open, revise and redistribute."""
from __future__ import annotations

from sqlmodel import select

from jcbot.services import assertions
from jcbot.store.audit import AuditEvent

from .helpers import CHANNEL, SLACK, action_ids, all_text, dispatch, posted_to, shown


async def escalation_dm(ctx, fake_slack, ref, cochair: str) -> list[dict]:
    """sato objects; the escalation DM `cochair` received."""
    assertions.record_assertion(ctx, ref, "sato", "negative", channel="slack", evidence_key="setup", actor="test",
                                opinion="The baseline is too high.")
    await dispatch(ctx)
    [dm] = [b for b in posted_to(fake_slack, SLACK[cochair]) if "objected" in b["text"]]
    return dm["blocks"]


async def test_withdraw_from_the_escalation_closes_the_proposal_and_updates_the_message(ctx, ref, fake_slack, slack_http):
    blocks = await escalation_dm(ctx, fake_slack, ref, "bat")
    await slack_http.interact(slack_http.click(SLACK["bat"], f"jc.withdraw|{ref}|1", blocks))
    [update] = await fake_slack.wait_for_async("chat.update")
    assert f"{ref} withdrawn by Bat at" in update.body["text"]
    assert action_ids(update.body["blocks"]) == []  # the buttons gave way to what was done
    assert "The baseline is too high." in all_text(update.body["blocks"])
    assert shown(ctx, ref).version.status == "withdrawn"
    await dispatch(ctx)
    [announce] = posted_to(fake_slack, CHANNEL)
    assert announce["text"] == f"{ref} withdrawn"
    assert any(b["text"] == f"{ref} withdrawn" for b in posted_to(fake_slack, SLACK["sato"]))


async def test_a_member_who_is_not_a_cochair_cannot_withdraw(ctx, ref, fake_slack, slack_http):
    blocks = await escalation_dm(ctx, fake_slack, ref, "bat")
    await slack_http.interact(slack_http.click(SLACK["sato"], f"jc.withdraw|{ref}|1", blocks))
    [refusal] = await fake_slack.wait_for_async("chat.postEphemeral")
    assert "sato is neither a co-chair nor an active alternate" in refusal.body["text"]
    assert shown(ctx, ref).version.status == "objected"


async def test_refer_by_the_alternate(ctx, ref, fake_slack, slack_http):
    blocks = await escalation_dm(ctx, fake_slack, ref, "suzuki")
    await slack_http.interact(slack_http.click(SLACK["suzuki"], f"jc.refer|{ref}|1", blocks))
    await fake_slack.wait_for_async("chat.update")
    assert shown(ctx, ref).version.status == "referred"


async def test_leave_open_is_recorded_in_the_audit_log_and_changes_nothing(ctx, ref, fake_slack, slack_http):
    blocks = await escalation_dm(ctx, fake_slack, ref, "tanaka")
    await slack_http.interact(slack_http.click(SLACK["tanaka"], f"jc.leave_open|{ref}|1", blocks))
    [update] = await fake_slack.wait_for_async("chat.update")
    assert f"{ref} left open by Tanaka" in update.body["text"]
    assert shown(ctx, ref).version.status == "objected"
    with ctx.tx("test") as tx:
        [event] = tx.session.exec(select(AuditEvent).where(AuditEvent.action == "proposal.left_open")).all()
    assert (event.actor, event.subject, event.data_value()["by"]) == ("slack:U0TANAKA", f"proposal:{ref}", "tanaka")


async def test_revise_opens_a_modal_and_redistributes_a_new_version(ctx, ref, fake_slack, slack_http):
    blocks = await escalation_dm(ctx, fake_slack, ref, "tanaka")
    await slack_http.interact(slack_http.click(SLACK["tanaka"], f"jc.revise|{ref}|1", blocks))
    opened = (await fake_slack.wait_for_async("views.open"))[0].body["view"]
    assert opened["callback_id"] == f"jc.revise|{ref}|1"
    assert "efficient boilers." in all_text(opened["blocks"]) or any(
        b.get("element", {}).get("initial_value", "").endswith("efficient boilers.") for b in opened["blocks"])
    submit = slack_http.submission(SLACK["tanaka"], opened, {"title": "Approve methodology MN_AM005 (revised)",
                                                             "text": "The baseline is lowered by 5%."})
    assert (await slack_http.interact(submit)).status_code == 200
    [note] = await fake_slack.wait_for_async("chat.postEphemeral")
    assert f"{ref} version 2 was distributed by Tanaka" in note.body["text"]
    view = shown(ctx, ref)
    assert (view.version.version, view.version.status, view.version.text) == (2, "open", "The baseline is lowered by 5%.")
    await dispatch(ctx)
    assert any(f"jc.affirm|{ref}|2" in action_ids(b["blocks"]) for b in posted_to(fake_slack, SLACK["sato"]))
    # The old escalation's buttons now concern a superseded version: refused, nothing done.
    await slack_http.interact(slack_http.click(SLACK["bat"], f"jc.withdraw|{ref}|1", blocks))
    notes = await fake_slack.wait_for_async("chat.postEphemeral", 2)
    assert "is at version 2 now" in notes[1].body["text"]
    assert shown(ctx, ref).version.status == "open"


async def test_a_cochairs_name_is_shown_as_text_not_as_slack_markup(ctx, ref, fake_slack, slack_http):
    from jcbot.services import roster

    roster.update_member(ctx, "japan-mongolia", "bat", "test", name="Bat <!channel> & Co")
    blocks = await escalation_dm(ctx, fake_slack, ref, "bat")
    await slack_http.interact(slack_http.click(SLACK["bat"], f"jc.withdraw|{ref}|1", blocks))
    [update] = await fake_slack.wait_for_async("chat.update")
    assert f"{ref} withdrawn by Bat &lt;!channel&gt; &amp; Co at" in update.body["text"]
    assert "<!channel>" not in update.body["text"] and "<!channel>" not in all_text(update.body["blocks"])
