"""Recovery of the outbox after kill -9: restart to queue drained, against the same queue with no kill.

`jcbot serve` runs as a subprocess on SQLite with N emails queued and a real aiosmtpd
server recording each arrival. Measured in the same run:

- clean: start -> all N delivered, nothing killed (the baseline: start-up plus sending);
- kill -9 halfway, restart under the same JCBOT_WORKER_ID: restart -> every message
  delivered (the restarted process takes its claims back at once);
- kill -9 halfway, restart under another worker id (a replica taking over): the dead
  worker's claims wait for their lease (30 s) to lapse;
- raw: the same N messages sent with plain aiosmtplib, ten at a time.
"""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from aiosmtpd.controller import Controller

from jcbot.app import build_context
from jcbot.clock import ManualClock
from jcbot.settings import load_settings
from jcbot.store import outbox
from jcbot.store.db import session_scope


class _Inbox:
    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.copies = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        head = envelope.content.split(b"\r\n\r\n", 1)[0]
        mid = next((line.split(b":", 1)[1].strip() for line in head.splitlines()
                    if line.lower().startswith(b"message-id:")), b"?")
        self.ids.add(mid.decode())
        self.copies += 1
        return "250 OK"


@dataclass(frozen=True)
class RecoveryResult:
    messages: int
    clean_s: float  # start -> all delivered, no kill
    remaining: int  # not yet marked sent when the kill landed
    recovery_s: float  # restart (same worker id) -> all delivered
    takeover_s: float  # restart under another worker id -> all delivered
    repeats: int  # copies beyond one, over both kills
    raw_s: float  # plain aiosmtplib, ten at a time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(storage: Path, smtp_port: int, worker: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
        "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
        "JCBOT_SMTP_HOST": "127.0.0.1", "JCBOT_SMTP_PORT": str(smtp_port), "JCBOT_SMTP_SECURITY": "none",
        "JCBOT_HTTP_PORT": str(_free_port()), "JCBOT_SWEEP_INTERVAL": "3600", "JCBOT_DISPATCH_INTERVAL": "1",
        "JCBOT_LOG_LEVEL": "WARNING", "JCBOT_WORKER_ID": worker}


def _message(i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jcbot@bench.example", f"m{i}@bench.example", f"Notice {i}"
    msg["Message-ID"] = f"<bench-{i}@bench.example>"
    msg.set_content(f"Notice number {i}.")
    return msg


def _queue(env: dict[str, str], n: int) -> None:
    ctx = build_context(load_settings(env=env, dotenv=None), ManualClock(datetime.now(UTC)))
    with session_scope(ctx.engine) as session:
        for i in range(n):
            msg = _message(i)
            outbox.enqueue(session, now=ctx.clock.now(), channel="email", kind="bench", recipient=msg["To"],
                           dedupe_key=f"email:bench:{i}", payload=outbox.email_payload(
                               msg, mail_from="jcbot@bench.example", rcpt_to=[str(msg["To"])]))
    ctx.engine.dispose()


def _spawn(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, cwd=env["JCBOT_STORAGE_DIR"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _drained(storage: Path, inbox: _Inbox, n: int) -> bool:
    # Drained: every message at the server and every outbox row marked sent (a message the
    # server took just before the kill is not done until the restarted process settles it).
    if len(inbox.ids) < n:
        return False
    with sqlite3.connect(storage / "jcbot.sqlite") as db:
        return db.execute("SELECT count(*) FROM outbox_message WHERE status != 'sent'").fetchone()[0] == 0


def _until(check, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _clean(storage: Path, inbox: _Inbox, port: int, n: int) -> float:
    env = _env(storage, port, "bench:clean")
    _queue(env, n)
    start = time.monotonic()
    proc = _spawn(env)
    try:
        _until(lambda: _drained(storage, inbox, n), 300, "the clean drain")
        return time.monotonic() - start
    finally:
        _stop(proc)


def _killed(storage: Path, inbox: _Inbox, port: int, n: int, restart_as: str) -> tuple[int, float]:
    env = _env(storage, port, "bench:slot")
    _queue(env, n)
    proc = _spawn(env)
    _until(lambda: len(inbox.ids) >= n // 2, 300, "half the queue")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with sqlite3.connect(storage / "jcbot.sqlite") as db:
        remaining = db.execute("SELECT count(*) FROM outbox_message WHERE status != 'sent'").fetchone()[0]
    env = dict(env, JCBOT_WORKER_ID=restart_as, JCBOT_HTTP_PORT=str(_free_port()))
    start = time.monotonic()
    proc = _spawn(env)
    try:
        _until(lambda: _drained(storage, inbox, n), 300, "the drain after the restart")
        return remaining, time.monotonic() - start
    finally:
        _stop(proc)


async def _raw(port: int, n: int) -> float:
    slots = asyncio.Semaphore(10)

    async def one(i: int) -> None:
        async with slots:
            await aiosmtplib.send(_message(i), hostname="127.0.0.1", port=port)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start


def measure(n: int = 300, takeover: bool = True) -> RecoveryResult:
    """Run the four measurements on fresh storage each, one SMTP server per measurement."""
    results, repeats = {}, 0
    for name in ("clean", "recovery", "takeover", "raw"):
        if name == "takeover" and not takeover:
            results[name] = (0, float("nan"))
            continue
        inbox = _Inbox()
        smtp = Controller(inbox, hostname="127.0.0.1", port=_free_port())
        smtp.start()
        try:
            with tempfile.TemporaryDirectory(prefix=f"jcbot-bench-{name}-") as storage:
                if name == "clean":
                    results[name] = (0, _clean(Path(storage), inbox, smtp.port, n))
                elif name == "raw":
                    results[name] = (0, asyncio.run(_raw(smtp.port, n)))
                else:
                    results[name] = _killed(Path(storage), inbox, smtp.port, n,
                                            "bench:slot" if name == "recovery" else "bench:other")
                    repeats += inbox.copies - len(inbox.ids)
        finally:
            smtp.stop()
    remaining, recovery = results["recovery"]
    return RecoveryResult(n, results["clean"][1], remaining, recovery, results["takeover"][1], repeats,
                          results["raw"][1])
