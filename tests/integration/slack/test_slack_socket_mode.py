"""Socket Mode gets the HTTP endpoint's shape checks: a malformed envelope is acknowledged and
dropped with one log line (no traceback, no redelivery), a good one still works.

slack_sdk's real Socket Mode client connects to a local WebSocket (tests/support/fake_socket_mode)
whose URL the fake Web API gives out at apps.connections.open, as Slack's does.
"""
from __future__ import annotations

import asyncio
import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jcbot.channels.slack.socket import run_socket_mode
from jcbot.services import queries
from jcbot.services.context import ServiceContext
from support.fake_socket_mode import FakeSocketMode

from .helpers import SLACK, SlackHttp
from .test_slack_fuzz import JUNK, mutate, paths, payloads
from .test_slack_wiring import with_values

ENVELOPE = {"interaction": "interactive", "form": "slash_commands", "event": "events_api"}


@pytest.fixture
async def socket_mode(ctx, ref, fake_slack, caplog):
    """jcbot's Socket Mode connection to the fake, until the test ends; yields the fake socket."""
    caplog.set_level(logging.INFO)
    server = FakeSocketMode()
    await server.start()
    fake_slack.respond("apps.connections.open", {"url": server.url})
    stop = asyncio.Event()
    task = asyncio.create_task(run_socket_mode(
        ServiceContext(ctx.engine, ctx.clock, with_values(ctx.settings, slack_app_token="xapp-1-test")), stop))
    await server.connected()
    yield server
    stop.set()
    await asyncio.wait_for(task, 10)
    await server.stop()


def positions(ctx, ref) -> dict[str, str]:
    return {a.member: a.position for a in queries.show(ctx, ref).assertions}


def tracebacks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()]


async def test_malformed_envelopes_are_acked_and_dropped_and_a_good_click_still_counts(
        ctx, ref, fake_slack, socket_mode, caplog):
    http = SlackHttp("", fake_slack)
    click = http.click(SLACK["sato"], f"jc.affirm|{ref}|1")
    no_user = {k: v for k, v in http.click(SLACK["tanaka"], f"jc.affirm|{ref}|1").items() if k != "user"}
    command = {"token": "legacy", "team_id": "T0JCMTEST1", "channel_id": "D1", "user_id": SLACK["bat"],
               "command": "/jc", "text": "pending", "api_app_id": "A0JCBOT",
               "response_url": f"{fake_slack.base_url}response/1", "trigger_id": "t"}
    malformed = {
        "payload-string": ("interactive", "payload=%7Bnot+json"),
        "payload-list": ("events_api", [1, 2]),
        "actions-not-a-list": ("interactive", dict(click, actions=5)),
        "click-without-user": ("interactive", no_user),
        "command-text-a-number": ("slash_commands", dict(command, text=5)),
        "command-without-response-url": ("slash_commands", {k: v for k, v in command.items() if k != "response_url"}),
        "event-a-list": ("events_api", {"type": "event_callback", "event": []}),
        "home-without-user": ("events_api", {"type": "event_callback", "event": {"type": "app_home_opened"}}),
        "callback-id-a-number": ("interactive", {"type": "view_submission", "user": {"id": SLACK["tanaka"]},
                                                 "view": {"id": "V1", "type": "modal", "callback_id": 7}}),
    }
    for name, (kind, payload) in malformed.items():
        await socket_mode.send({"type": kind, "envelope_id": name, "payload": payload, "accepts_response_payload": False})
        assert await socket_mode.ack_of(name) == {"envelope_id": name}  # acknowledged: Slack will not resend it
    # Not ours (another app's button): acknowledged too, and nothing runs.
    other = dict(click, actions=[dict(click["actions"][0], action_id="other.app|x")])
    await socket_mode.send({"type": "interactive", "envelope_id": "foreign", "payload": other})
    assert await socket_mode.ack_of("foreign") == {"envelope_id": "foreign"}
    # Nothing to acknowledge these with: one log line each.
    await socket_mode.send({"type": "interactive", "payload": click})
    await socket_mode.send("{not json")
    # The connection survived, and a well-formed click is recorded as before.
    await socket_mode.send({"type": "interactive", "envelope_id": "good", "payload": click})
    assert await socket_mode.ack_of("good") == {"envelope_id": "good"}
    await fake_slack.wait_for_async("chat.update")
    assert positions(ctx, ref) == {"sato": "affirmative"}  # tanaka's click without a user recorded nothing

    lines = [r.getMessage() for r in caplog.records if r.name == "jcbot.channels.slack.socket"]
    for name in malformed:
        assert any(f"envelope={name} " in line and line.startswith("event=slack.malformed") for line in lines), name
    assert any("envelope_id is missing or not a string" in line for line in lines)
    assert any("the frame is not a JSON object" in line for line in lines)
    assert any(line.startswith("event=slack.ignored") and "envelope=foreign" in line for line in lines)
    assert not tracebacks(caplog)


@settings(deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_fuzz_an_envelope_of_any_shape_is_acknowledged_without_a_traceback(ctx, ref, fake_slack, socket_mode,
                                                                                caplog, data):
    # The HTTP fuzz test's payloads and mutations, over Socket Mode.
    shapes = payloads(ref, SlackHttp("", fake_slack))
    seen = len(caplog.records)
    name = data.draw(st.sampled_from(sorted(shapes)), label="shape")
    kind, payload = shapes[name]
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        choices = paths(payload)
        if not choices:
            break
        payload = mutate(payload, data.draw(st.sampled_from(choices), label="path"),
                         data.draw(st.booleans(), label="delete"), data.draw(JUNK, label="value"))
    envelope_id = f"fuzz-{data.draw(st.uuids(), label='id')}"
    await socket_mode.send({"type": ENVELOPE[kind], "envelope_id": envelope_id, "payload": payload})
    ack = await socket_mode.ack_of(envelope_id)
    assert set(ack) <= {"envelope_id", "payload"}, ack
    await asyncio.sleep(0)  # let a listener started after the ack fail now, if it would
    assert not tracebacks(caplog)[seen:], json.dumps(payload)[:500]


def test_a_slash_command_whose_text_is_null_is_a_command_without_words():
    # Found by the fuzz test above: JSON null as the text of a /jc envelope raised TypeError
    # in the shape check, and the envelope was never acknowledged.
    from jcbot.channels.slack import shapes

    payload = {"command": "/jc", "user_id": SLACK["sato"], "text": None, "response_url": "https://hooks.slack.test/r"}
    assert shapes.envelope("slash_commands", payload) == shapes.Shape("command")
    assert shapes.envelope("slash_commands", payload | {"text": "show\x00"}).problem == "text holds a NUL"
