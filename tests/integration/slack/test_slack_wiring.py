"""Wiring: the router only when configured, Socket Mode construction, url_verification, the CLI, action ids."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jcbot.channels.slack import blocks
from jcbot.channels.slack.socket import socket_handler
from jcbot.services.context import ServiceContext
from jcbot.settings import Settings
from jcbot.web.slack import router

from .helpers import SLACK


def with_values(settings: Settings, **values) -> Settings:
    return Settings({**settings.values, **values})


def test_no_router_without_token_or_signing_secret(ctx):
    for missing in ("slack_bot_token", "slack_signing_secret"):
        assert router(ServiceContext(ctx.engine, ctx.clock, with_values(ctx.settings, **{missing: None}))) is None
    assert [r.path for r in router(ctx).routes] == ["/slack/events"]


async def test_socket_mode_handler_is_built_with_the_app_token(ctx):
    with pytest.raises(ValueError, match="JCBOT_SLACK_APP_TOKEN"):
        socket_handler(ctx)
    handler = socket_handler(ServiceContext(ctx.engine, ctx.clock, with_values(ctx.settings, slack_app_token="xapp-1-test")))
    assert handler.app_token == "xapp-1-test"
    assert handler.app.client.base_url == ctx.settings.slack_api_url  # the Web API the fake stands for
    await handler.client.close()


async def test_url_verification_is_answered(slack_http):
    body = json.dumps({"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                       "type": "url_verification"})
    answer = await slack_http.post(body, "application/json")
    assert answer.status_code == 200
    assert answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_cli_link_and_whois(ctx, ref, monkeypatch, fake_slack, tmp_path):
    from jcbot.cli import app
    from jcbot.cli.common import reset_context

    monkeypatch.setenv("JCBOT_DATABASE_URL", str(ctx.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    reset_context()
    runner = CliRunner()
    try:
        bad = runner.invoke(app, ["slack", "link", "japan-mongolia", "dorj", "dorj@mne.gov.mn"])
        assert bad.exit_code == 2 and "is not a Slack user id" in bad.output
        done = runner.invoke(app, ["slack", "link", "japan-mongolia", "dorj", "U0DORJ"])
        assert done.exit_code == 0, done.output
        who = runner.invoke(app, ["slack", "whois", "U0DORJ"])
        assert who.exit_code == 0 and "dorj" in who.output and "member" in who.output
        cochair = runner.invoke(app, ["slack", "whois", SLACK["bat"]])
        assert "cochair" in cochair.output
        nobody = runner.invoke(app, ["slack", "whois", "U0NOBODY"])
        assert nobody.exit_code == 1 and "not a member" in nobody.output
    finally:
        reset_context()


def test_action_ids_round_trip_and_foreign_ones_are_refused():
    assert blocks.parse_action(blocks.action_id("affirm", "MN-P-2026-003", 2)) == ("affirm", "MN-P-2026-003", 2)
    with pytest.raises(ValueError):
        blocks.parse_action("other.app|x|1")


def test_deadline_is_shown_in_the_members_zone_and_text_is_escaped():
    assert blocks.when("2026-03-23T16:00:00+00:00", "Asia/Tokyo") == "Tue 24 Mar 2026, 01:00 (Asia/Tokyo)"
    assert blocks.when("2026-03-23T16:00:00+00:00", "America/New_York") == "Mon 23 Mar 2026, 12:00 (America/New_York)"
    assert blocks.esc("<!channel> & co") == "&lt;!channel&gt; &amp; co"

