"""Start `jcbot serve` as a subprocess and prepare its database through the services."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from jcbot.app import build_context
from jcbot.clock import ManualClock
from jcbot.services import assertions, proposals, roster
from jcbot.services.proposals import Item
from jcbot.settings import load_settings

from support.ports import free_port

RULES = """\
timezone: Asia/Tokyo
committee: {name: Test Joint Committee, host_country: Mongolia, code: MN}
membership: {max_members_per_government: 10}
electronic_decision: {objection_period_days: 1, period_ends: exact}
reminders: {days_before_deadline: [1]}
"""
MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")]


def serve_env(storage: Path, smtp_port: int, http_port: int, **extra: str) -> dict[str, str]:
    """The environment of a served jcbot: SQLite in `storage`, mail to the test SMTP server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")}
    env.update({
        "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "e2e-secret-0123456789abcdef",
        "JCBOT_SMTP_HOST": "127.0.0.1", "JCBOT_SMTP_PORT": str(smtp_port), "JCBOT_SMTP_SECURITY": "none",
        "JCBOT_HTTP_PORT": str(http_port), "JCBOT_SWEEP_INTERVAL": "1", "JCBOT_DISPATCH_INTERVAL": "0.5",
        "JCBOT_MAIL_FROM": "jcbot@jc.example", "JCBOT_LOG_LEVEL": "INFO",
    })
    env.update(extra)
    return env


@dataclass
class Served:
    """A running `jcbot serve`."""

    proc: subprocess.Popen
    port: int
    log: Path

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, and wait for a clean exit."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)


def start_serve(env: dict[str, str], log: Path, timeout: float = 30) -> Served:
    """Start `python -m jcbot serve` and wait until /healthz answers."""
    port = int(env["JCBOT_HTTP_PORT"])
    out = log.open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, stdout=out, stderr=subprocess.STDOUT,
                            cwd=env["JCBOT_STORAGE_DIR"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"jcbot serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return Served(proc, port, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"jcbot serve did not answer /healthz in {timeout}s:\n{log.read_text()}")


def prepare(env: dict[str, str], distributed_at: datetime, affirm: tuple[str, ...] = ("tanaka", "bat")) -> str:
    """A committee and a distributed proposal in the served database, as of `distributed_at`."""
    clock = ManualClock(distributed_at)
    settings = load_settings(env=env, dotenv=None)
    ctx = build_context(settings, clock)
    rules_path = Path(env["JCBOT_STORAGE_DIR"]) / "rules.yaml"
    rules_path.write_text(RULES)
    roster.create_committee(ctx, "test-jc", RULES, str(rules_path), "test")
    for handle, gov in MEMBERS:
        roster.add_member(ctx, "test-jc", handle, gov, "test", email=f"{handle}@jc.example", timezone="Europe/Berlin")
    roster.elect_cochair(ctx, "test-jc", "japan", "tanaka", "test")
    roster.elect_cochair(ctx, "test-jc", "host", "bat", "test")
    p = proposals.draft(ctx, "test-jc", "Approve MN_AM001", "The methodology text.", [Item("methodology_approval", "Energy")], "test")
    proposals.distribute(ctx, p.ref, "test")
    clock.advance(timedelta(seconds=1))
    for handle in affirm:
        assertions.record_assertion(ctx, p.ref, handle, "affirmative", channel="web", evidence_key=f"e2e:{handle}", actor="test")
    ctx.engine.dispose()
    return p.ref


def free_http_port() -> int:
    return free_port()
