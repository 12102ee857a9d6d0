"""Correctly signed Slack requests of every shape jcbot listens to, with fields missing or of the
wrong type, posted to the real endpoint: a 200 or a 4xx, never a 500, never a traceback, and
nothing recorded from a request that was refused.

The examples come from the Hypothesis profile (tests/conftest.py): a few hundred in CI,
thousands with `make fuzz`.
"""
from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import SLACK, TEAM

JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False),
                 st.text(max_size=12), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2))
# Fields a listener cannot do without: deleted, or anything but a non-empty string, and the answer is 400.
REQUIRED = {
    "block_actions": [("user",), ("user", "id"), ("actions",), ("actions", 0), ("actions", 0, "action_id"),
                      ("actions", 0, "action_ts"), ("trigger_id",)],
    "view_submission": [("user",), ("user", "id"), ("view",), ("view", "callback_id"), ("view", "id")],
    "event_callback": [("event",), ("event", "user")],
}


def payloads(ref: str, slack_http) -> dict[str, tuple[str, dict]]:
    """Every shape a jcbot listener reads, well formed: name -> (body kind, payload)."""
    opened = {"type": "modal", "callback_id": f"jc.object|{ref}|1", "private_metadata": json.dumps(
        {"place": {"type": "message", "channel": f"D{SLACK['sato']}", "ts": "1700000000.000001"}})}
    revised = dict(opened, callback_id=f"jc.revise|{ref}|1")
    out = {f"click-{verb}": ("interaction", slack_http.click(SLACK["bat" if verb not in ("affirm", "object") else "sato"],
                                                             f"jc.{verb}|{ref}|1"))
           for verb in ("affirm", "object", "revise", "withdraw", "refer", "leave_open")}
    out["submit-object"] = ("interaction", slack_http.submission(SLACK["sato"], opened, {"opinion": "No."}))
    out["submit-revise"] = ("interaction", slack_http.submission(SLACK["bat"], revised, {"title": "T", "text": "X"}))
    out["command"] = ("form", {"token": "legacy", "team_id": TEAM["id"], "channel_id": "D1", "user_id": SLACK["bat"],
                               "command": "/jc", "text": "pending", "api_app_id": "A0JCBOT",
                               "response_url": f"{slack_http.fake.base_url}response/1", "trigger_id": "t"})
    out["home"] = ("event", {"token": "legacy", "team_id": TEAM["id"], "api_app_id": "A0JCBOT",
                             "type": "event_callback", "event_id": "Ev1", "event_time": 1,
                             "event": {"type": "app_home_opened", "user": SLACK["sato"], "tab": "home"}})
    return out


def paths(value, prefix=()) -> list[tuple]:
    """Every path into a nested payload (dict keys and list indexes)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += paths(v, prefix + (i,))
    return out


def mutate(payload: dict, path: tuple, delete: bool, junk) -> dict:
    copy = json.loads(json.dumps(payload))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = junk
    return copy


def encode(kind: str, payload: dict) -> tuple[str, str]:
    if kind == "interaction":
        return urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    if kind == "form":
        return urlencode({k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}), \
            "application/x-www-form-urlencoded"
    return json.dumps(payload), "application/json"


def assertion_count(ctx, ref) -> int:
    from jcbot.services import queries

    return len(queries.show(ctx, ref).assertions)


async def settle(before: set) -> None:
    """Wait for what the request started (listeners run after the ack) to finish."""
    for _ in range(500):
        started = {t for t in asyncio.all_tasks() if t not in before and t is not asyncio.current_task()}
        if not started:
            return
        await asyncio.sleep(0.01)


RAW = st.sampled_from([
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"payload=%5B1%2C2%5D", "application/x-www-form-urlencoded"),
    (b"payload=null", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00payload", "application/x-www-form-urlencoded"),
    (b"{\"type\": \"event_callback\"", "application/json"),
    (b"[]", "application/json"),
    (b"", "application/json"),
    (b"", "application/x-www-form-urlencoded"),
    (b"{\"type\": \"block_actions\", \"team\": \"T1\", \"actions\": [{\"action_id\": \"jc.affirm|X|1\"}]}",
     "application/json"),
    (b"{\"type\": \"event_callback\", \"authorizations\": 5, \"event\": {\"type\": \"message\"}}", "application/json"),
])


@pytest.fixture
def caught(caplog):
    caplog.set_level(logging.INFO)
    return caplog


@settings(deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_a_signed_request_of_any_shape_gets_an_ack_or_a_4xx(ctx, ref, fake_slack, slack_http, caught, data):
    shapes = payloads(ref, slack_http)
    seen = len(caught.records)
    if data.draw(st.integers(0, 9), label="raw") == 0:
        raw, content_type = data.draw(RAW, label="body")
        body, required = raw.decode("utf-8", "replace"), None
        answer = await slack_http.post(body, content_type)
    else:
        name = data.draw(st.sampled_from(sorted(shapes)), label="shape")
        kind, payload = shapes[name]
        touched = []
        for _ in range(data.draw(st.integers(1, 3), label="mutations")):
            choices = paths(payload)
            if not choices:
                break
            path = data.draw(st.sampled_from(choices), label="path")
            payload = mutate(payload, path, data.draw(st.booleans(), label="delete"), data.draw(JUNK, label="value"))
            touched.append(path)
        kind_of = payload.get("type") if isinstance(payload, dict) else None
        needed = REQUIRED.get(kind_of, []) if isinstance(kind_of, str) else []
        required = next((p for p in touched if p in needed and path_still_missing(payload, p)), None)
        before_tasks = set(asyncio.all_tasks())
        recorded = await asyncio.to_thread(assertion_count, ctx, ref)
        body, content_type = encode(kind, payload)
        answer = await slack_http.post(body, content_type)
        await settle(before_tasks)
        if answer.status_code == 400:
            assert await asyncio.to_thread(assertion_count, ctx, ref) == recorded, "a refused request recorded"
        if required is not None and still_ours(payload):
            assert answer.status_code == 400, (required, answer.status_code, answer.text)
    assert answer.status_code < 500 and answer.status_code != 401, (body, answer.status_code, answer.text)
    bad = [r for r in caught.records[seen:] if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()]
    assert not bad, [r.getMessage() for r in bad]


def still_ours(payload: dict) -> bool:
    """Whether the payload still names one of jcbot's actions, modals or events (else it is acked and dropped)."""
    for path in (("actions", 0, "action_id"), ("view", "callback_id"), ("event", "type")):
        value = payload
        for step in path:
            try:
                value = value[step]
            except (KeyError, IndexError, TypeError):
                value = None
                break
        if isinstance(value, str) and value and not (value.startswith("jc.") or value == "app_home_opened"):
            return False
    return True


def path_still_missing(payload: dict, path: tuple) -> bool:
    """Whether a later mutation did not put a usable string back (a mutation may replace a parent)."""
    value = payload
    for step in path:
        try:
            value = value[step]
        except (KeyError, IndexError, TypeError):
            return True
    return not (isinstance(value, str) and value)


# Regression tests: inputs that got HTTP 500 or a traceback before the shapes were checked.
@pytest.mark.parametrize("raw, content_type", [
    ("payload=%7Bnot+json", "application/x-www-form-urlencoded"),  # JSONDecodeError inside bolt: 500
    ('{"type": "block_actions", "team": "T1", "actions": [{"action_id": "jc.affirm|X|1"}]}', "application/json"),
    ('{"type": "event_callback", "event": []}', "application/json"),
    ("user_id=U0BAT&command=%2Fjc&text=pending", "application/x-www-form-urlencoded"),  # no response_url
])
async def test_unparseable_or_half_bodies_get_400(ctx, ref, slack_http, caught, raw, content_type):
    answer = await slack_http.post(raw, content_type)
    assert answer.status_code == 400 and "malformed Slack request" in answer.text
    assert [r.getMessage() for r in caught.records if r.name == "jcbot.web.slack"][0].startswith("event=slack.malformed")
    assert not [r for r in caught.records if r.levelno >= logging.ERROR]


async def test_a_click_without_its_user_or_a_modal_without_its_type_gets_400_and_records_nothing(
        ctx, ref, fake_slack, slack_http, caught):
    click = slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1")
    click["user"] = None  # was a KeyError in the listener after the ack
    assert (await slack_http.interact(click)).status_code == 400
    opened = {"callback_id": f"jc.object|{ref}|1", "private_metadata": "{}"}  # no "type": KeyError inside bolt
    assert (await slack_http.interact(slack_http.submission(SLACK["sato"], opened, {"opinion": "No."}))).status_code == 400
    assert assertion_count(ctx, ref) == 0 and not fake_slack.calls("chat.update")
    assert not [r for r in caught.records if r.levelno >= logging.ERROR]


async def test_another_apps_button_is_acked_and_nothing_runs(ctx, ref, fake_slack, slack_http):
    answer = await slack_http.interact(slack_http.click(SLACK["sato"], "other.app|x|1"))
    assert answer.status_code == 200 and not fake_slack.calls()


async def test_a_form_field_sent_twice_gets_400_and_nothing_runs(ctx, ref, fake_slack, slack_http, caught):
    # The shape check read the first `payload`, bolt the last: a checked click could carry an unchecked one.
    import json
    from urllib.parse import urlencode

    checked = slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1")
    unchecked = dict(checked, user=None)
    raw = urlencode([("payload", json.dumps(checked)), ("payload", json.dumps(unchecked))])
    answer = await slack_http.post(raw, "application/x-www-form-urlencoded")
    assert answer.status_code == 400 and "a form field appears more than once" in answer.text
    assert assertion_count(ctx, ref) == 0 and not fake_slack.calls()
    assert not [r for r in caught.records if r.levelno >= logging.ERROR]
