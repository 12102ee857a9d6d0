"""Helpers of the crash tests: a timed aiosmtpd inbox, mail queued straight into the outbox, kill -9 loops."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import smtplib
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from jcbot.app import build_context
from jcbot.channels.email.compose import EmailRenderer, message_id
from jcbot.clock import ManualClock
from jcbot.services.outgoing import is_notice
from jcbot.settings import load_settings
from jcbot.store import outbox
from jcbot.store.db import session_scope

from support.ports import HOST
from support.smtp import _Port0Controller
from tests.e2e.serve_helpers import serve_env


class TimedInbox:
    """aiosmtpd handler: when each DATA started and was accepted, by Message-ID; `delay` slows it."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.lock = threading.Lock()
        self.started: list[tuple[float, str]] = []
        self.arrivals: list[tuple[float, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        mid = _header(envelope.content, b"message-id")
        with self.lock:
            self.started.append((time.monotonic(), mid))
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.arrivals.append((time.monotonic(), mid))
        return "250 OK"

    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def ids(self) -> list[str]:
        with self.lock:
            return [mid for _, mid in self.arrivals]


def _header(content: bytes, name: bytes) -> str:
    for line in content.split(b"\r\n\r\n", 1)[0].splitlines():
        if line.lower().startswith(name + b":"):
            return line.split(b":", 1)[1].strip().decode()
    return "?"


@dataclass
class Inbox:
    """A running TimedInbox on 127.0.0.1."""

    handler: TimedInbox
    controller: _Port0Controller = field(repr=False)

    @property
    def port(self) -> int:
        return self.controller.port

    def stop(self) -> None:
        self.controller.stop()


def start_inbox(delay: float = 0.0) -> Inbox:
    handler = TimedInbox(delay)
    controller = _Port0Controller(handler, hostname=HOST, port=0)
    controller.start()
    return Inbox(handler, controller)


def queue_mail(env: dict[str, str], first: int, count: int) -> list[str]:
    """Put `count` emails in the served database's outbox; returns their Message-IDs."""
    ctx = build_context(load_settings(env=env, dotenv=None), ManualClock(datetime.now(UTC)))
    ids = []
    try:
        with session_scope(ctx.engine) as session:
            for i in range(first, first + count):
                msg = EmailMessage()
                msg["From"], msg["To"], msg["Subject"] = "jcbot@jc.example", f"m{i}@jc.example", f"Notice {i}"
                msg["Message-ID"] = mid = f"<fault-{i}@jc.example>"
                msg.set_content(f"Notice number {i}.")
                outbox.enqueue(session, now=ctx.clock.now(), channel="email", kind="fault", recipient=msg["To"],
                               dedupe_key=f"email:fault:{i}", payload=outbox.email_payload(
                                   msg, mail_from="jcbot@jc.example", rcpt_to=[str(msg["To"])]))
                ids.append(mid)
    finally:
        ctx.engine.dispose()
    return ids


def outbox_state(storage: Path) -> Counter:
    """Outbox rows by (status, claimed or not, in flight or not)."""
    with sqlite3.connect(storage / "jcbot.sqlite") as db:
        rows = db.execute("SELECT status, claimed_by IS NOT NULL, in_flight_since IS NOT NULL FROM outbox_message")
        return Counter(rows.fetchall())


def expected_ids(storage: Path, env: dict[str, str] | None = None) -> set[str]:
    """The Message-ID of every email the outbox holds (queued by the test, or by jcbot itself).

    The test queues rendered messages; jcbot queues notices, rendered at dispatch with a
    Message-ID derived from the notice key, computed here as the renderer does.
    """
    with sqlite3.connect(storage / "jcbot.sqlite") as db:
        payloads = [json.loads(p) for (p,) in db.execute("SELECT payload FROM outbox_message WHERE channel='email'")]
    renderer = EmailRenderer(load_settings(env=env or serve_env(storage, 25, 8080), dotenv=None))
    return {message_id(renderer.secret, p["notice"]["key"], renderer.domain) if is_notice(p)
            else _header(p["message"].replace("\n", "\r\n").encode(), b"message-id") for p in payloads}


def kill9(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


class RetryingLMTP:
    """An MTA's side of LMTP: deliver, and on a refused connection, a dropped session or 4xx try again."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.tries: Counter = Counter()

    def deliver(self, raw: bytes, sender: str, rcpt: str, key: str, give_up_s: float = 90) -> float:
        """Deliver until answered 250; returns when that was (time.monotonic())."""
        end = time.monotonic() + give_up_s
        while time.monotonic() < end:
            self.tries[key] += 1
            try:
                with smtplib.LMTP(self.host, self.port, timeout=10) as client:
                    refused = client.sendmail(sender, [rcpt], raw)
                if not refused:
                    return time.monotonic()
            except (OSError, smtplib.SMTPException):
                pass  # jcbot down, killed mid-session, or 451: the message stays queued here
            time.sleep(0.2)
        raise AssertionError(f"reply {key} was not accepted within {give_up_s}s ({self.tries[key]} tries)")
