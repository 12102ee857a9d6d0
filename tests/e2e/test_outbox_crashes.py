"""`jcbot serve` killed with -9 again and again, and stopped with SIGTERM mid-pass.

Faults injected on purpose: hundreds of messages queued, the process killed at random
moments at least ten times and restarted each time. At the end no message is lost,
every duplicate is a send that was in flight at a kill (same Message-ID, first copy
before the kill), and the queue drains within 30 s of the last restart. Replies arrive
over jcbot's LMTP listener meanwhile, from a client that retries as an MTA does: each is
answered 250 in the end and recorded once. SIGTERM during a slow pass exits 0, with no
traceback, nothing left claimed.
"""
from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from jcbot.app import build_context
from jcbot.channels.email.compose import reply_secret
from jcbot.channels.email.tokens import make_token, reply_address
from jcbot.clock import ManualClock
from jcbot.services import proposals
from jcbot.settings import load_settings
from tests.e2e.outbox_faults import (RetryingLMTP, expected_ids, kill9, outbox_state, queue_mail, start_inbox)
from tests.e2e.serve_helpers import MEMBERS, free_http_port, prepare, serve_env, start_serve
from tests.integration.email.mailtest import reply

from support.ports import free_port

pytestmark = pytest.mark.slow

KILLS = 10
# The dispatcher's concurrency: at most this many sends are in flight when a kill lands.
IN_FLIGHT = 10


def _wait(check, timeout: float, what: str):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _kill_loop(env, storage, inbox, rng, top_up: int, log_name: str = "serve.log"):
    """Start, let it work a random moment, kill -9; KILLS times. Returns each kill's arrival count."""
    at_kill, queued = [], 0
    for k in range(KILLS):
        served = start_serve(env, storage / log_name)
        time.sleep(rng.uniform(0.2, 1.6))
        kill9(served.proc)
        at_kill.append(inbox.handler.count())
        # More work while it is down: a restart finds both taken-back claims and new mail.
        queue_mail(env, 10_000 + k * top_up, top_up)
        queued += top_up
    return at_kill, queued


def _check_deliveries(storage, inbox, at_kill):
    """No message lost; every duplicate was in flight at a kill; returns the number of duplicates."""
    want = expected_ids(storage)
    got = Counter(inbox.handler.ids())
    assert want - set(got) == set(), "messages lost"
    assert set(got) - want == set()
    arrivals = inbox.handler.ids()
    duplicates = {mid: n for mid, n in got.items() if n > 1}
    for mid in duplicates:
        first, second = [i for i, m in enumerate(arrivals) if m == mid][:2]
        # The first copy arrived before some kill, the repeat after it: the kill cut the send
        # between the server's 250 and the "sent" mark.
        assert any(first < c <= second for c in at_kill), (mid, first, second, at_kill)
    extra = sum(n - 1 for n in duplicates.values())
    assert extra <= len(at_kill) * IN_FLIGHT, (extra, duplicates)
    return extra


def _proposals(env, count: int) -> list[tuple[int, str]]:
    """`count` more distributed proposals in the served database: (proposal id, ref)."""
    ctx = build_context(load_settings(env=env, dotenv=None), ManualClock(datetime.now(UTC) - timedelta(minutes=5)))
    try:
        out = []
        for i in range(count):
            p = proposals.draft(ctx, "test-jc", f"Proposal {i}", "Text.", [proposals.Item("other", f"Item {i}")], "test")
            proposals.distribute(ctx, p.ref, "test")
            out.append((p.id, p.ref))
        return out
    finally:
        ctx.engine.dispose()


def test_kill_9_ten_times_loses_no_message_and_records_each_reply_once(tmp_path):
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    inbox = start_inbox(delay=0.01)
    lmtp_port = free_port()
    try:
        env = serve_env(tmp_path, inbox.port, free_http_port(), JCBOT_DISPATCH_INTERVAL="0.5",
                        JCBOT_SWEEP_INTERVAL="3600", JCBOT_WORKER_ID="slot-1",
                        JCBOT_INBOUND_LMTP_HOST="127.0.0.1", JCBOT_INBOUND_LMTP_PORT=str(lmtp_port))
        prepare(env, datetime.now(UTC) - timedelta(minutes=10), affirm=())
        settings = load_settings(env=env, dotenv=None)
        secret = reply_secret(settings)
        with sqlite3.connect(tmp_path / "jcbot.sqlite") as db:
            ids = dict(db.execute("SELECT handle, id FROM member").fetchall())
        made = _proposals(env, 6)
        queue_mail(env, 0, 400)
        # One affirmative reply per member and proposal, delivered by a retrying client.
        replies = []
        for pid, ref in made:
            for handle, _ in MEMBERS:
                to = reply_address("jcbot", "jc.example", make_token(secret, pid, 1, ids[handle]))
                sender = f"{handle}@jc.example"
                replies.append((f"{ref}:{handle}", reply("gmail_yes.eml", to=to, sender=sender), sender, to))
        rng.shuffle(replies)
        client, accepted, errors = RetryingLMTP("127.0.0.1", lmtp_port), {}, []
        hurry = threading.Event()  # set at the last restart: the rest of the replies at once

        def mta() -> None:
            for key, raw, sender, to in replies:
                try:
                    accepted[key] = client.deliver(raw, sender, to, key)
                except BaseException as error:  # reported by the test, not lost in the thread
                    errors.append(error)
                hurry.wait(rng.uniform(0.5, 3.0))  # spread over the whole series of kills

        thread = threading.Thread(target=mta, name="mta", daemon=True)
        thread.start()
        at_kill, _ = _kill_loop(env, tmp_path, inbox, rng, top_up=10)
        assert sum(1 for a, b in zip([0, *at_kill], at_kill) if b > a) >= 5, (seed, at_kill)  # kills landed mid-work
        restarted = time.monotonic()
        served = start_serve(env, tmp_path / "serve.log")
        hurry.set()
        try:
            thread.join(timeout=60)
            assert not thread.is_alive() and errors == [], errors
            _wait(lambda: len(set(inbox.handler.ids())) >= len(expected_ids(tmp_path)), 30,
                  f"all messages (seed {seed})")
            drained = time.monotonic() - restarted
            total = len(expected_ids(tmp_path))
            _wait(lambda: set(outbox_state(tmp_path)) == {("sent", 0, 0)}, 10, "every row marked sent")
        finally:
            assert served.stop() == 0
        assert drained < 30
        assert set(accepted) == {key for key, *_ in replies}
        with sqlite3.connect(tmp_path / "jcbot.sqlite") as db:
            recorded = Counter(db.execute(
                "SELECT p.ref || ':' || m.handle FROM assertion a JOIN member m ON m.id = a.member_id "
                "JOIN proposal_version v ON v.id = a.version_id JOIN proposal p ON p.id = v.proposal_id "
                "WHERE a.channel = 'email'").fetchall())
        assert {k[0]: n for k, n in recorded.items()} == {key: 1 for key, *_ in replies}
        retried = sum(1 for n in client.tries.values() if n > 1)
        extra = _check_deliveries(tmp_path, inbox, at_kill)
        print(f"seed {seed}: {len(replies)} replies ({retried} retried), {total} messages, "
              f"{extra} repeats, drained {drained:.1f}s after the last restart")
    finally:
        inbox.stop()


def test_sigterm_during_a_slow_pass_finishes_it_exits_0_and_leaves_nothing_claimed(tmp_path):
    inbox = start_inbox(delay=1.5)  # each message takes 1.5 s at the server
    try:
        env = serve_env(tmp_path, inbox.port, free_http_port(), JCBOT_DISPATCH_INTERVAL="0.5",
                        JCBOT_SWEEP_INTERVAL="3600", JCBOT_WORKER_ID="slot-1")
        queue_mail(env, 0, 40)
        served = start_serve(env, tmp_path / "serve.log")
        _wait(lambda: inbox.handler.started, 20, "a send under way")
        time.sleep(0.3)
        busy = outbox_state(tmp_path)
        assert busy[("sending", 1, 1)] >= 1, busy  # a pass is mid-way: sends in flight
        stopped = time.monotonic()
        assert served.stop(timeout=30) == 0
        assert time.monotonic() - stopped < 12  # the pass finished well within the grace
        log = served.log.read_text()
        assert "Traceback" not in log and "ERROR" not in log, log
        state = outbox_state(tmp_path)
        # Nothing claimed, nothing in flight; what started was finished and recorded.
        assert set(state) <= {("sent", 0, 0), ("pending", 0, 0)}, state
        started = {mid for _, mid in inbox.handler.started}
        assert started == set(inbox.handler.ids()) and state[("sent", 0, 0)] == len(started)
        assert state[("pending", 0, 0)] == 40 - len(started) > 0
        # The rest goes out after a restart, each message once.
        inbox.handler.delay = 0.0
        served = start_serve(env, tmp_path / "serve.log")
        try:
            _wait(lambda: len(inbox.handler.ids()) >= 40, 30, "the rest after the restart")
        finally:
            assert served.stop() == 0
        assert Counter(inbox.handler.ids()) == Counter({mid: 1 for mid in expected_ids(tmp_path)})
    finally:
        inbox.stop()
