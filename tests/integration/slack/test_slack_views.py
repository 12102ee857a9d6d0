"""`/jc pending | show | help` and the App Home, by role: co-chairs see everything, members their own."""
from __future__ import annotations

from datetime import timedelta

from jcbot.services import assertions
from jcbot.services.slack_identity import identify

from .helpers import SLACK, action_ids, all_text


def assert_as(ctx, ref, member, position, opinion=None):
    assertions.record_assertion(ctx, ref, member, position, channel="slack", evidence_key=f"setup:{member}:{position}",
                                actor="test", opinion=opinion)


async def ask(slack_http, fake_slack, user: str, text: str, n: int) -> dict:
    """Send `/jc TEXT` as `user` and return the body posted to the response_url."""
    path = f"response/cmd-{n}"
    answer = await slack_http.command(user, text, f"{fake_slack.base_url}{path}")
    assert answer.status_code == 200 and answer.content == b""  # acked at once, empty
    return (await fake_slack.wait_for_async(path))[0].body


async def test_a_command_whose_text_says_payload_reaches_its_listener(ctx, ref, fake_slack, slack_http):
    # Bolt runs on the form the shape check read: bolt's own reading of a form body holding the
    # word "payload" looked for a payload field, found none, and the command matched no listener.
    body = await ask(slack_http, fake_slack, SLACK["sato"], "payload", 1)
    assert "I do not know `/jc payload`" in all_text(body["blocks"])


async def test_jc_pending_for_a_cochair_shows_days_left_tally_awaited_and_negatives(ctx, ref, fake_slack, slack_http):
    assert_as(ctx, ref, "tanaka", "affirmative")
    assert_as(ctx, ref, "sato", "negative", "The baseline is too high.")
    ctx.clock.advance(timedelta(days=5))
    body = await ask(slack_http, fake_slack, SLACK["bat"], "pending", 1)
    text = all_text(body["blocks"])
    assert body["response_type"] == "ephemeral"
    assert f"*{ref}* v1" in text and "*objected*" in text and "15.7 days left" in text
    assert "Tally: 1 affirmative · 1 negative · 3 awaited of 5" in text
    assert "Awaiting: bat, suzuki, dorj" in text
    assert "• sato: “The baseline is too high.”" in text
    assert "japan tanaka: affirmative" in text and "host bat: no position" in text
    assert "*Awaiting your assertion*" in text  # bat is a member too, and has not asserted


async def test_jc_pending_for_a_member_shows_only_what_awaits_them(ctx, ref, fake_slack, slack_http):
    assert_as(ctx, ref, "tanaka", "negative", "Confidential reasons.")
    body = await ask(slack_http, fake_slack, SLACK["sato"], "", 1)  # bare /jc means pending
    text = all_text(body["blocks"])
    assert ref in text and "*Awaiting your assertion*" in text and "Tue 24 Mar 2026, 01:00 (Asia/Tokyo)" in text
    assert "Confidential reasons" not in text and "Tally" not in text
    assert_as(ctx, ref, "sato", "affirmative")
    body = await ask(slack_http, fake_slack, SLACK["sato"], "pending", 2)
    assert "Nothing awaits your assertion." in all_text(body["blocks"])


async def test_jc_show_and_help_and_unknown(ctx, ref, fake_slack, slack_http):
    assert_as(ctx, ref, "sato", "negative", "No.")
    cochair = all_text((await ask(slack_http, fake_slack, SLACK["tanaka"], f"show {ref.lower()}", 1))["blocks"])
    assert "• sato: “No.”" in cochair and "Efficient boilers" in cochair
    member = all_text((await ask(slack_http, fake_slack, SLACK["sato"], f"show {ref}", 2))["blocks"])
    assert "Your position: *negative*" in member and "Tally" not in member
    missing = all_text((await ask(slack_http, fake_slack, SLACK["sato"], "show MN-P-1999-001", 3))["blocks"])
    assert "no proposal 'MN-P-1999-001'" in missing
    assert "*/jc pending*" in all_text((await ask(slack_http, fake_slack, SLACK["sato"], "help", 4))["blocks"])
    unknown = all_text((await ask(slack_http, fake_slack, SLACK["sato"], "vote yes", 5))["blocks"])
    assert "I do not know `/jc vote yes`" in unknown


async def test_jc_for_someone_unknown_says_how_to_get_linked(ctx, ref, fake_slack, slack_http):
    body = await ask(slack_http, fake_slack, "U0NOBODY", "pending", 1)
    assert "does not know you" in all_text(body["blocks"]) and ref not in all_text(body["blocks"])


async def test_app_home_for_a_cochair_and_for_a_member(ctx, ref, fake_slack, slack_http):
    assert_as(ctx, ref, "dorj", "negative", "Too early.")
    answer = await slack_http.event({"type": "app_home_opened", "user": SLACK["bat"], "channel": "DU0BAT", "tab": "home",
                                     "event_ts": "1772494300.000001"})
    assert answer.status_code == 200
    [home] = await fake_slack.wait_for_async("views.publish")
    assert home.body["user_id"] == SLACK["bat"] and home.body["view"]["type"] == "home"
    text = all_text(home.body["view"]["blocks"])
    assert "*Open proposals* (1)" in text and "dorj" in text and "Too early." in text and "*Recent decisions*" in text
    await slack_http.event({"type": "app_home_opened", "user": SLACK["sato"], "channel": "DU0SATO", "tab": "home",
                            "event_ts": "1772494301.000001"})
    member = (await fake_slack.wait_for_async("views.publish", 2))[1].body["view"]["blocks"]
    assert "Too early." not in all_text(member) and "*Awaiting your assertion* (1)" in all_text(member)
    assert action_ids(member) == [f"jc.affirm|{ref}|1", f"jc.object|{ref}|1"]


async def test_affirming_from_the_home_tab_records_and_redraws_it(ctx, ref, fake_slack, slack_http):
    click = slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1", container={"type": "view", "view_id": "VHOME"})
    await slack_http.interact(click)
    [home] = await fake_slack.wait_for_async("views.publish")
    assert "Nothing awaits your assertion." in all_text(home.body["view"]["blocks"])
    assert not fake_slack.calls("chat.update")


async def test_secretariat_and_alternate_roles(ctx, ref):
    from jcbot.store.models import Secretariat

    with ctx.tx("test") as tx:
        tx.session.add(Secretariat(name="Secretariat", email="jcm@gec.jp", slack_user_id="U0SECR"))
    secretariat = identify(ctx, "U0SECR")
    assert secretariat.seats == () and secretariat.secretariat == (None,)
    assert secretariat.oversees(1) and secretariat.known
    alternate = identify(ctx, SLACK["suzuki"])
    assert [(s.handle, s.role) for s in alternate.seats] == [("suzuki", "alternate")]
    assert identify(ctx, SLACK["tanaka"]).seats[0].role == "cochair"
    assert identify(ctx, SLACK["sato"]).oversees(alternate.seats[0].committee_id) is False
