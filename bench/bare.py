"""The baseline process of the Slack and RSS benchmarks: a bare slack-bolt AsyncApp behind uvicorn.

Its one listener acks an Affirm click and does nothing else. It is written to a temporary
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
