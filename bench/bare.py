"""The baseline process of the Slack and RSS benchmarks: a bare slack-bolt AsyncApp behind uvicorn.

Its listeners ack an Affirm click and do nothing else, or ack an Object... click and open
a pop-up (views.open) as jcbot's does, with no database behind it. It is written to a temporary
file and started as its own process, as `jcbot serve` is, so both are measured the same way.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """\
import os, re, sys

import uvicorn
from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

client = AsyncWebClient(token=os.environ["BARE_SLACK_TOKEN"], base_url=os.environ["BARE_SLACK_API_URL"])
app = AsyncApp(client=client, signing_secret=os.environ["BARE_SLACK_SIGNING_SECRET"])


@app.action(re.compile(r"^jc\\.affirm\\|"))
async def affirm(ack):
    await ack()


@app.action(re.compile(r"^jc\\.object\\|"))
async def object_(ack, body, client):
    await ack()
    await client.views_open(trigger_id=body["trigger_id"], view={
        "type": "modal", "callback_id": body["actions"][0]["action_id"], "title": {"type": "plain_text", "text": "Object"},
        "submit": {"type": "plain_text", "text": "Object"},
        "blocks": [{"type": "input", "block_id": "opinion", "label": {"type": "plain_text", "text": "Your opinion"},
                    "element": {"type": "plain_text_input", "action_id": "opinion", "multiline": True}}]})


uvicorn.run(AsyncSlackRequestHandler(app), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            lifespan="off", access_log=False)
"""


def spawn(folder: Path, port: int, secret: str, api_url: str = "https://slack.com/api/",
          token: str = "xoxb-bench") -> subprocess.Popen:
    """Start the bare app on 127.0.0.1:`port` (its script written under `folder`)."""
    script = folder / "bare_bolt.py"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "BARE_SLACK_TOKEN": token, "BARE_SLACK_API_URL": api_url,
           "BARE_SLACK_SIGNING_SECRET": secret}
    return subprocess.Popen([sys.executable, str(script), str(port)], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=(folder / "bare_bolt.log").open("wb"))
