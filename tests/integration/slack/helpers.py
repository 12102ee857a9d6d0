"""Helpers of the Slack tests: settings, the outbox pass, requests signed as Slack signs them."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from jcbot.channels.slack.sender import SlackSender
from jcbot.services import queries
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import Settings, load_settings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T0 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 08:30 on 3 March in Ulaanbaatar
CHANNEL = "C0JCANNOUNCE"
TEAM = {"id": "T0JCMTEST1", "domain": "jcm-test"}
# handle, government, Slack user id, email, time zone
PEOPLE = [
    ("tanaka", "japan", "U0TANAKA", "tanaka@env.go.jp", "Asia/Tokyo"),
    ("bat", "host", "U0BAT", "bat@mne.gov.mn", "Asia/Ulaanbaatar"),
    ("sato", "japan", "U0SATO", "sato@env.go.jp", "Asia/Tokyo"),
    ("suzuki", "japan", "U0SUZUKI", "suzuki@env.go.jp", None),
    ("dorj", "host", None, "dorj@mne.gov.mn", None),  # found by the email Slack reports
]
SLACK = {h: u for h, _, u, _, _ in PEOPLE if u}


def settings_for(fake_slack, tmp_path, **extra) -> Settings:
    env = {"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SLACK_BOT_TOKEN": "xoxb-jcbot-test",
           "JCBOT_SLACK_SIGNING_SECRET": SECRET, "JCBOT_SLACK_API_URL": fake_slack.base_url} | extra
    s = load_settings(env, dotenv=None)
    return Settings({**s.values, "slack_channel": CHANNEL})


async def dispatch(ctx) -> int:
    """One outbox pass through the Slack sender against the fake."""
    return await Dispatcher(ctx.engine, {"slack": SlackSender(ctx.settings)}, ctx.clock).run_once()


def shown(ctx, ref):
    return queries.show(ctx, ref)


@dataclass
class SlackHttp:
    """jcbot's HTTP app on a real socket, and requests signed as Slack signs them."""

    url: str
    fake: object
    seq: int = 0

    def headers(self, body: str, content_type: str, timestamp: int | None = None, secret: str = SECRET) -> dict:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        return {"content-type": content_type, "x-slack-request-timestamp": ts,
                "x-slack-signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)}

    async def post(self, body: str, content_type: str, **signing) -> httpx.Response:
        extra = signing.pop("extra", {})
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.post(f"{self.url}/slack/events", content=body.encode(),
                                     headers=self.headers(body, content_type, **signing) | extra)

    async def interact(self, payload: dict, **signing) -> httpx.Response:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **signing)

    def click(self, user: str, action_id: str, blocks: list | None = None, action_ts: str | None = None,
              container: dict | None = None) -> dict:
        """A block_actions payload: `user` clicked `action_id` in a DM message (or `container`)."""
        self.seq += 1
        container = container or {"type": "message", "channel_id": f"D{user}", "message_ts": "1700000000.000001",
                                  "is_ephemeral": False}
        return {"type": "block_actions", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
                "api_app_id": "A0JCBOT", "trigger_id": f"trigger-{self.seq}", "container": container,
                "channel": {"id": container.get("channel_id", f"D{user}")},
                "message": {"type": "message", "ts": "1700000000.000001", "blocks": blocks or []},
                "response_url": f"{self.fake.base_url}response/{self.seq}",
                "actions": [{"type": "button", "action_id": action_id, "block_id": "jc_actions",
                             "action_ts": action_ts or f"1700000100.{self.seq:06d}"}]}

    def submission(self, user: str, opened: dict, values: dict[str, str], view_id: str = "V0SUBMIT1") -> dict:
        """A view_submission of the modal `opened` (as views.open received it) with input values."""
        state = {k: {k: {"type": "plain_text_input", "value": v}} for k, v in values.items()}
        view = dict(opened, id=view_id, state={"values": state})
        return {"type": "view_submission", "team": TEAM, "user": {"id": user, "team_id": TEAM["id"]},
                "api_app_id": "A0JCBOT", "trigger_id": "trigger-submit", "view": view}

    async def command(self, user: str, text: str, response_url: str) -> httpx.Response:
        body = urlencode({"token": "legacy", "team_id": TEAM["id"], "team_domain": TEAM["domain"],
                          "channel_id": f"D{user}", "user_id": user, "user_name": user.lower(), "command": "/jc",
                          "text": text, "api_app_id": "A0JCBOT", "response_url": response_url,
                          "trigger_id": "trigger-command"})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(self, event: dict, **signing) -> httpx.Response:
        self.seq += 1
        body = json.dumps({"token": "legacy", "team_id": TEAM["id"], "api_app_id": "A0JCBOT", "type": "event_callback",
                           "event": event, "event_id": f"Ev{self.seq:08d}", "event_time": int(time.time())})
        return await self.post(body, "application/json", **signing)


def posted_to(fake_slack, user: str) -> list[dict]:
    """Bodies of chat.postMessage calls to one channel or user."""
    return [c.body for c in fake_slack.calls("chat.postMessage") if c.body.get("channel") == user]


def action_ids(blocks: list[dict]) -> list[str]:
    return [e["action_id"] for b in blocks if b.get("type") == "actions" for e in b["elements"]]


def all_text(blocks: list[dict]) -> str:
    """Every text of a list of blocks, joined (to assert on what a person reads)."""
    out = []
    for b in blocks:
        for part in [b.get("text")] + list(b.get("elements") or []) + list(b.get("fields") or []):
            if isinstance(part, dict):
                t = part.get("text")
                out.append(t.get("text", "") if isinstance(t, dict) else t or "")
    return "\n".join(out)
