"""Pure predicates on Slack's payloads: is this request one of ours, and is it whole?

Checked before bolt or a listener reads a field, so a signed request of any shape gets
a 4xx or an ack, never a KeyError or a TypeError half-way through the work. Each check
states what the listeners read (app.py, asserting.py, cochairs.py, commands.py). Over
HTTP `classify` reads the body; in Socket Mode `envelope` reads the envelope's payload,
which is the same JSON (a slash command's form fields as an object).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from jcbot.channels.slack.blocks import parse_action

COMMAND = "/jc"
MEMBER_VERBS = ("affirm", "object")
COCHAIR_VERBS = ("revise", "withdraw", "refer", "leave_open")
# Kinds bolt answers itself before any listener (URL check when the app is set up, SSL check).
BOLT_OWN = ("url_verification", "ssl_check")


@dataclass(frozen=True)
class Shape:
    """What a request is: `kind` (ours, bolt's own, or foreign: acked and dropped) and why it is refused.

    `body` (from `classify`): the request as bolt reads it (the payload's JSON, or a slash
    command's form fields), handed to bolt as it is: what was checked is what runs.
    """

    kind: str
    problem: str | None = None
    body: dict | None = field(default=None, compare=False, repr=False)


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value) and "\x00" not in value


def _optional(value: object, kind: type | tuple[type, ...]) -> bool:
    return value is None or isinstance(value, kind)


def _ours(value: object, verbs: tuple[str, ...]) -> bool:
    """An action id or callback id of ours, with one of `verbs`."""
    if not _text(value):
        return False
    try:
        verb, ref, version = parse_action(value)  # type: ignore[arg-type]
    except ValueError:
        return False
    return verb in verbs and bool(ref.strip()) and 0 < version < 2**31


def _user(body: dict) -> str | None:
    user = body.get("user")
    return None if isinstance(user, dict) and _text(user.get("id")) else "user.id is missing or not a string"


def _container(body: dict) -> str | None:
    c, channel = body.get("container"), body.get("channel")
    if not _optional(c, dict) or not _optional(channel, dict):
        return "container or channel is not an object"
    if c and not all(_optional(c.get(k), str) for k in ("type", "channel_id", "message_ts")):
        return "container fields are not strings"
    if c and not _optional(c.get("is_ephemeral"), bool):
        return "container.is_ephemeral is not a boolean"
    if c and c.get("type") == "message" and not c.get("is_ephemeral") and \
            not (_text(c.get("channel_id")) and _text(c.get("message_ts"))):
        return "a message container without channel_id and message_ts"
    if channel and not _optional(channel.get("id"), str):
        return "channel.id is not a string"
    message = body.get("message")
    if not _optional(message, dict) or (message and not _optional(message.get("blocks"), list)):
        return "message.blocks is not a list"
    if message and not all(isinstance(b, dict) for b in message.get("blocks") or []):
        return "message.blocks holds something other than blocks"
    return None


def block_actions(body: dict) -> Shape:
    """A click: Affirm, Object..., or a co-chair's button."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        return Shape("click", "actions is not a list of actions")
    action = actions[0]
    if not _ours(action.get("action_id"), MEMBER_VERBS + COCHAIR_VERBS):
        # Another app's button, or a jc. id that is not whole: nothing of ours to run.
        action_id = action.get("action_id")
        foreign = _text(action_id) and not action_id.startswith("jc.")  # type: ignore[union-attr]
        return Shape("foreign") if foreign else Shape("click", "actions[0].action_id is not one of jcbot's")
    problem = _user(body) or _container(body)
    if problem is None and not _text(action.get("action_ts")):
        problem = "actions[0].action_ts is missing or not a string"
    if problem is None and not _text(body.get("trigger_id")):
        problem = "trigger_id is missing or not a string"
    return Shape("click", problem)


def view_submission(body: dict) -> Shape:
    """The objection or revision modal submitted."""
    view = body.get("view")
    if not isinstance(view, dict):
        return Shape("submission", "view is missing or not an object")
    if not _ours(view.get("callback_id"), ("object", "revise")):
        callback = view.get("callback_id")
        foreign = _text(callback) and not callback.startswith("jc.")  # type: ignore[union-attr]
        return Shape("foreign") if foreign else Shape("submission", "view.callback_id is not one of jcbot's")
    problem = _user(body)
    if problem is None and not (_text(view.get("id")) and _text(view.get("type"))):
        problem = "view.id or view.type is missing or not a string"
    if problem is None:
        problem = _metadata(view.get("private_metadata")) or _state(view.get("state"))
    return Shape("submission", problem)


def _metadata(raw: object) -> str | None:
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        return "view.private_metadata is not a string"
    try:
        meta = json.loads(raw)
    except ValueError:
        return "view.private_metadata is not JSON"
    if not isinstance(meta, dict) or not _optional(meta.get("place"), dict):
        return "view.private_metadata is not what jcbot put there"
    place = meta.get("place") or {}
    if not all(_optional(place.get(k), str) for k in ("type", "channel", "ts")):
        return "view.private_metadata.place fields are not strings"
    return None


def _state(state: object) -> str | None:
    if state is None:
        return None
    values = state.get("values") if isinstance(state, dict) else None
    if not isinstance(state, dict) or not _optional(values, dict):
        return "view.state.values is not an object"
    for block in (values or {}).values():
        if not isinstance(block, dict) or not all(isinstance(v, dict) and _optional(v.get("value"), str)
                                                  for v in block.values()):
            return "view.state.values holds something other than inputs"
    return None


def command(form: dict[str, str]) -> Shape:
    """`/jc ...`: form fields, all strings; the answer goes to response_url."""
    if form.get("command") != COMMAND:
        return Shape("foreign")
    if not _text(form.get("user_id")):
        return Shape("command", "user_id is missing")
    url = urlsplit(form.get("response_url") or "")
    if url.scheme not in ("http", "https") or not url.netloc:
        return Shape("command", "response_url is missing or not a URL")
    return Shape("command", None if "\x00" not in (form.get("text") or "") else "text holds a NUL")


def event(body: dict) -> Shape:
    """An Events API callback: only app_home_opened is ours."""
    e = body.get("event")
    if not isinstance(e, dict):
        return Shape("event", "event is missing or not an object")
    if not _text(e.get("type")):
        return Shape("event", "event.type is missing or not a string")
    if e.get("type") != "app_home_opened":
        return Shape("foreign")
    if not _text(e.get("user")):
        return Shape("event", "event.user is missing or not a string")
    if not _optional(e.get("tab"), str):
        return Shape("event", "event.tab is not a string")
    return Shape("event")


INTERACTIONS = {"block_actions": block_actions, "view_submission": view_submission}
# Socket Mode envelope types that carry a request; any other (hello, disconnect) is the connection's own.
ENVELOPES = ("events_api", "interactive", "slash_commands")
# What the /jc listener reads of a slash command: strings over HTTP, whatever JSON holds in Socket Mode.
COMMAND_FIELDS = ("command", "user_id", "text", "response_url", "channel_id", "team_id")


def classify(raw: bytes, content_type: str | None) -> Shape:
    """The shape of a request body as Slack sends it (form-encoded or JSON), with the body read (once)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Shape("unknown", "the body is not UTF-8")
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        try:
            body = json.loads(text)
        except ValueError:
            return Shape("unknown", "the body is not JSON")
        return _read(_json(body), body)
    fields = parse_qsl(text, keep_blank_values=True)
    form = dict(fields)
    if len(form) != len(fields):
        # Slack sends each field once: a repeated one could be read one way here and another way after.
        return Shape("unknown", "a form field appears more than once")
    if "payload" not in form:
        return _read(Shape("ssl_check") if form.get("ssl_check") else command(form), form)
    try:
        body = json.loads(form["payload"])
    except ValueError:
        return Shape("unknown", "payload is not JSON")
    return _read(_json(body), body)


def _read(shape: Shape, body: object) -> Shape:
    """`shape` with the body it was found in (a well-formed one only: nothing else goes on to bolt)."""
    return Shape(shape.kind, shape.problem, body) if shape.problem is None and isinstance(body, dict) else shape


def envelope(kind: object, payload: object) -> Shape:
    """The shape of a Socket Mode envelope's payload (its type: events_api, interactive or slash_commands)."""
    if kind not in ENVELOPES:
        return Shape("foreign")
    if not isinstance(payload, dict):
        return Shape("unknown", "the envelope's payload is not an object")
    if kind == "slash_commands":
        if not all(_optional(payload.get(k), str) for k in COMMAND_FIELDS):
            return Shape("command", "a slash command field is not a string")
        return command(payload)
    return _json(payload)


def _json(body: object) -> Shape:
    if not isinstance(body, dict):
        return Shape("unknown", "the payload is not an object")
    kind = body.get("type")
    if kind in BOLT_OWN:
        return Shape(kind) if _text(body.get("challenge")) or kind == "ssl_check" else \
            Shape(kind, "challenge is missing")
    if kind == "event_callback":
        return event(body)
    check = INTERACTIONS.get(kind) if isinstance(kind, str) else None
    if check is None:
        return Shape("foreign") if isinstance(kind, str) else Shape("unknown", "type is missing or not a string")
    # Bolt reads these to find the workspace: an object, or nothing.
    if not all(_optional(body.get(k), dict) for k in ("team", "enterprise")):
        return Shape(kind, "team or enterprise is not an object")
    return check(body)
