"""From a deadline to the recorded adoption and the first notice handed to the SMTP server.

`jcbot serve` runs as a subprocess with 1,000 open proposals, 10 of which reach their
deadline a few seconds after it starts; a real aiosmtpd server records when each
message arrives. Baselines measured in the same run: a plain UPDATE + COMMIT of one row
on the same database, and one plain aiosmtplib send to the same server.
"""
from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from aiosmtpd.controller import Controller

from jcbot.app import build_context
from jcbot.clock import ManualClock
from jcbot.services import assertions, proposals, roster
from jcbot.settings import load_settings

RULES = """\
timezone: UTC
committee: {name: Bench JC, code: BD}
membership: {max_members_per_government: 10}
electronic_decision: {objection_period_days: 1, period_ends: exact}
reminders: {days_before_deadline: []}
"""


class _Inbox:
    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        kind = next((line.split(b":", 1)[1].strip().decode() for line in envelope.content.splitlines()
                     if line.lower().startswith(b"x-jcbot-notice:")), "?")
        self.arrivals.append((time.time(), kind))
        return "250 OK"


@dataclass(frozen=True)
class DeadlineResult:
    open_proposals: int
    adoption_s: list[float]
    first_notice_s: float
    raw_update_s: float
    raw_smtp_s: float


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(env: dict, open_total: int, due: int, deadline: datetime) -> None:
    far = deadline + timedelta(hours=12)
    clock = ManualClock(deadline - timedelta(days=1))
    ctx = build_context(load_settings(env=env, dotenv=None), clock)
    renderers, ctx.renderers = ctx.renderers, []
    roster.create_committee(ctx, "bench", RULES, "bench.yaml", "bench")
    for handle, gov in (("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("oyun", "host")):
        roster.add_member(ctx, "bench", handle, gov, "bench", email=f"{handle}@bench.example")
    roster.elect_cochair(ctx, "bench", "japan", "tanaka", "bench")
    roster.elect_cochair(ctx, "bench", "host", "bat", "bench")
    for i in range(open_total):
        ctx.renderers = renderers if i < due else []  # only the due ones send adoption notices
        clock.set((deadline if i < due else far) - timedelta(days=1))
        p = proposals.draft(ctx, "bench", f"Proposal {i}", "Text.", [proposals.Item("other", "Item")], "bench")
        proposals.distribute(ctx, p.ref, "bench")
        for h in ("tanaka", "bat"):
            assertions.record_assertion(ctx, p.ref, h, "affirmative", channel="web", evidence_key=f"{i}:{h}", actor="bench")
    with ctx.engine.begin() as conn:  # the distributions are not what is measured
        conn.exec_driver_sql("UPDATE outbox_message SET status = 'sent'")
    ctx.engine.dispose()


async def _raw_smtp(port: int) -> float:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@bench.example", "b@bench.example", "baseline"
    msg.set_content("baseline")
    t = time.perf_counter()
    await aiosmtplib.send(msg, hostname="127.0.0.1", port=port)
    return time.perf_counter() - t


def measure(storage: Path, open_total: int = 1000, due: int = 10, lead_s: float = 20.0) -> DeadlineResult:
    """Run serve across the deadline of `due` of `open_total` open proposals."""
    inbox = _Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    smtp.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
            "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
            "JCBOT_SMTP_HOST": "127.0.0.1", "JCBOT_SMTP_PORT": str(smtp.port), "JCBOT_SMTP_SECURITY": "none",
            "JCBOT_HTTP_PORT": str(_free_port()), "JCBOT_SWEEP_INTERVAL": "600", "JCBOT_DISPATCH_INTERVAL": "600",
            "JCBOT_LOG_LEVEL": "WARNING"}
        prep_start = time.time()
        deadline = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead_s + open_total * 0.12)
        _prepare(env, open_total, due, deadline)
        if datetime.now(UTC) > deadline - timedelta(seconds=5):
            raise RuntimeError(f"preparing took {time.time() - prep_start:.0f}s: the deadline passed before serve started")
        proc = subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, cwd=storage,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            db = sqlite3.connect(storage / "jcbot.sqlite")
            end = deadline.timestamp() + 60
            while time.time() < end:
                done = db.execute("SELECT count(*) FROM audit_event WHERE action = 'proposal.adopted'").fetchone()[0]
                if done >= due and sum(1 for _, k in inbox.arrivals if k == "adoption") >= 1:
                    break
                time.sleep(0.05)
            rows = db.execute("SELECT at FROM audit_event WHERE action = 'proposal.adopted'").fetchall()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
        adoption = sorted(datetime.fromisoformat(r[0]).replace(tzinfo=UTC).timestamp() - deadline.timestamp() for r in rows)
        first = min((t for t, k in inbox.arrivals if k == "adoption"), default=float("nan")) - deadline.timestamp()
        t = time.perf_counter()
        db.execute("UPDATE committee SET name = name WHERE id = 1")
        db.commit()
        raw_update = time.perf_counter() - t
        raw_smtp = asyncio.run(_raw_smtp(smtp.port))
        return DeadlineResult(open_total, adoption, first, raw_update, raw_smtp)
    finally:
        smtp.stop()
