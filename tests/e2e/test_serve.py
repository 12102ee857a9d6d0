"""`jcbot serve` as a subprocess: adoption on time, after downtime, reminders, SIGTERM.

The database is prepared through the services with a clock set in the past (so a
one-day period ends seconds from now); the served process runs on the real clock,
sends mail to a real aiosmtpd server, and is stopped with SIGTERM.
"""
from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.serve_helpers import free_http_port, prepare, serve_env, start_serve

pytestmark = pytest.mark.slow


def _db(env) -> sqlite3.Connection:
    return sqlite3.connect(f"{env['JCBOT_STORAGE_DIR']}/jcbot.sqlite")


def _version(env, ref):
    row = _db(env).execute(
        "SELECT v.status, v.basis, v.adopted_at, v.deadline FROM proposal_version v JOIN proposal p "
        "ON p.id = v.proposal_id WHERE p.ref = ?", (ref,)).fetchone()
    return row


def _kinds(smtp_server) -> Counter:
    """(notice kind from the Message-ID's local part, recipient) of every message received."""
    out: Counter = Counter()
    for m in smtp_server.messages:
        out[(m.message["X-Jcbot-Notice"], m.rcpt_tos[0])] += 1
    return out


def _wait(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_adopted_at_the_deadline_while_running_with_notices_and_reminders(tmp_path, smtp_server):
    env = serve_env(tmp_path, smtp_server.port, free_http_port())
    # The deadline comes 25 s from now: room for a slow start before it, so the reminder
    # (due from the distribution on) is sent while the period runs.
    distributed = datetime.now(UTC) - timedelta(days=1) + timedelta(seconds=25)
    ref = prepare(env, distributed)
    served = start_serve(env, tmp_path / "serve.log")
    try:
        # Reminders (1 day before = at distribution) go only to the members still awaited.
        _wait(lambda: sum(1 for k in _kinds(smtp_server) if k[0] == "reminder") >= 2, 20, "reminders")
        reminded = sorted(r for (kind, r) in _kinds(smtp_server) if kind == "reminder")
        assert reminded == ["oyun@jc.example", "sato@jc.example"]
        status = _wait(lambda: _version(env, ref)[0] == "adopted" and _version(env, ref), 60, "adoption")
        _, basis, adopted_at, deadline = status
        assert basis == "no_objection"
        assert adopted_at == deadline  # the instant the core gives, not the sweep's
        _wait(lambda: sum(1 for k in _kinds(smtp_server) if k[0] == "adoption") == 4, 20, "adoption notices")
    finally:
        assert served.stop() == 0, served.log.read_text()
    recipients = sorted(r for (kind, r) in _kinds(smtp_server) if kind == "adoption")
    assert recipients == sorted(f"{m}@jc.example" for m in ("tanaka", "sato", "bat", "oyun"))


def test_a_deadline_passed_while_stopped_is_adopted_at_the_deadline_once(tmp_path, smtp_server):
    env = serve_env(tmp_path, smtp_server.port, free_http_port())
    ref = prepare(env, datetime.now(UTC) - timedelta(days=1, hours=2))
    served = start_serve(env, tmp_path / "serve.log")
    try:
        _, basis, adopted_at, deadline = _wait(lambda: _version(env, ref)[0] == "adopted" and _version(env, ref), 20, "adoption")
        assert (basis, adopted_at) == ("no_objection", deadline)
        _wait(lambda: sum(1 for k in _kinds(smtp_server) if k[0] == "adoption") == 4, 20, "adoption notices")
    finally:
        assert served.stop() == 0
    # A second start sends nothing twice.
    served = start_serve(env, tmp_path / "serve.log")
    time.sleep(3)
    assert served.stop() == 0
    counts = _kinds(smtp_server)
    assert all(n == 1 for n in counts.values()), counts
    assert sum(n for (kind, _), n in counts.items() if kind == "adoption") == 4
    stale = [k for k in counts if k[0] == "reminder"]
    assert stale == []  # the reminder mark was before the downtime ended: no stale reminders after the deadline


def test_sigterm_with_messages_pending_delivers_after_restart_once(tmp_path, smtp_server):
    env = serve_env(tmp_path, smtp_server.port, free_http_port(), JCBOT_DISPATCH_INTERVAL="3600")
    env_first = dict(env, JCBOT_SMTP_PORT=str(free_http_port()))  # nothing listens there: sends fail for now
    prepare(env, datetime.now(UTC) - timedelta(hours=1))
    served = start_serve(env_first, tmp_path / "serve.log")
    time.sleep(2)
    assert served.stop() == 0
    pending = _db(env).execute("SELECT count(*) FROM outbox_message WHERE channel='email' AND status != 'sent'").fetchone()[0]
    assert pending >= 4  # the distribution to four members at least, none lost
    assert smtp_server.messages == []
    # The failed first attempts scheduled their retries 30 s later (the outbox's backoff).
    served = start_serve(dict(env, JCBOT_DISPATCH_INTERVAL="0.5"), tmp_path / "serve.log")
    try:
        _wait(lambda: _db(env).execute("SELECT count(*) FROM outbox_message WHERE channel='email' AND status != 'sent'").fetchone()[0] == 0,
              90, "delivery after restart")
    finally:
        assert served.stop() == 0
    ids = Counter(m.message["Message-ID"] for m in smtp_server.messages)
    assert len(ids) >= pending and all(n == 1 for n in ids.values()), ids
