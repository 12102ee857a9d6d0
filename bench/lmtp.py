"""Email replies over LMTP: recorded per second by jcbot's listener, against a bare aiosmtpd LMTP server.

A committee of M members and P proposals is distributed (SQLite, jcbot's EmailRenderer);
each member answers each proposal with an "Agree" written like a Gmail reply
(tests/fixtures/replies/gmail_yes.eml) to the reply address carrying their token, the one
the distribution email gave them. The M x P replies are delivered over C LMTP connections at
once, one message after another on each, to jcbot's real listener (start_listener); LMTP
answers a message once it is handled, so delivered is recorded (checked in the database at
the end). Baseline in the same run: an aiosmtpd LMTP server whose handler answers 250 and
does nothing, the same client, the same messages. The client is a process of its own
(bench.lmtp_client), as an MTA is: in the server's process its threads would wait for
the interpreter lock while jcbot's intake holds it, which slowed jcbot's side alone.
Besides the wall-clock rates, the server process's CPU time while it took the replies
(less swayed by other load on a shared machine), split by thread: the server's event
loop (aiosmtpd, and jcbot's handler up to the hand-over to its database threads) and the
rest of the process (for jcbot, its database threads: parsing and reading each reply,
and the intake's transaction); and the client's CPU, the same work in both runs.
"""
from __future__ import annotations

import asyncio
import json
import pickle
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from sqlalchemy import text

from bench import committee
from jcbot.app import build_context
from jcbot.channels.email.compose import EmailRenderer
from jcbot.channels.email.lmtp import start_listener
from jcbot.settings import load_settings
from tests.integration.email.mailtest import reply


@dataclass(frozen=True)
class Split:
    """A run's CPU time (seconds): the server's event loop, the client process's sending threads, the server's rest."""

    loop_s: float
    client_s: float
    rest_s: float

    def per_reply_ms(self, replies: int) -> tuple[float, float, float]:
        return tuple(seconds / replies * 1000 for seconds in (self.loop_s, self.client_s, self.rest_s))


@dataclass(frozen=True)
class Delivered:
    seconds: float  # until every message was answered
    cpu_s: float  # the server process's CPU time meanwhile (every thread; the client is another process)
    split: Split


@dataclass(frozen=True)
class LmtpResult:
    replies: int
    connections: int
    jcbot_s: float  # every reply answered (and recorded) by jcbot's listener
    bare_s: float  # every reply accepted by the bare server
    jcbot_cpu_s: float = 0.0  # jcbot's process CPU time while its listener took them (every thread)
    bare_cpu_s: float = 0.0  # the bare server's process, the same
    jcbot_split: Split | None = None  # jcbot_cpu_s by thread
    bare_split: Split | None = None

    @property
    def jcbot_per_s(self) -> float:
        return self.replies / self.jcbot_s

    @property
    def bare_per_s(self) -> float:
        return self.replies / self.bare_s

    @property
    def ratio(self) -> float:
        return self.jcbot_per_s / self.bare_per_s

    @property
    def cpu_ratio(self) -> float:
        """Bare CPU per reply over jcbot's: the rate ratio if both had the CPU to themselves."""
        return self.bare_cpu_s / self.jcbot_cpu_s


class _Accept:
    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        return "250 2.0.0 OK"


class _BareLmtp(Controller):
    def factory(self) -> LMTP:
        return LMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # Port 0: learn the port the kernel chose before aiosmtpd's self-check (as ReplyListener does).
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def _loop_cpu(loop: asyncio.AbstractEventLoop) -> float:
    """CPU time of the thread running `loop`, read in that thread."""
    return asyncio.run_coroutine_threadsafe(_thread_time(), loop).result(60)


async def _thread_time() -> float:
    return time.thread_time()


def deliver(host: str, port: int, messages: list[tuple[str, str, bytes]], connections: int,
            loop: asyncio.AbstractEventLoop, folder: Path) -> Delivered:
    """Send every (sender, to, raw) over `connections` LMTP connections at once, from a client process
    (bench.lmtp_client), to the server running on `loop` in this process; its files go in `folder`."""
    path = folder / "lmtp-messages.pickle"
    path.write_bytes(pickle.dumps(messages))
    root = Path(__file__).resolve().parent.parent
    client = subprocess.Popen([sys.executable, "-m", "bench.lmtp_client", host, str(port), str(connections), str(path)],
                              cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert client.stdin is not None and client.stdout is not None
        if client.stdout.readline().strip() != "ready":
            raise RuntimeError("the LMTP client did not start")
        # Every connection open and greeted: the server's CPU from here on is the messages'.
        loop_cpu, cpu, start = _loop_cpu(loop), time.process_time(), time.perf_counter()
        client.stdin.write("go\n")
        client.stdin.flush()
        done = json.loads(client.stdout.readline() or "{}")
        elapsed, cpu, loop_cpu = time.perf_counter() - start, time.process_time() - cpu, _loop_cpu(loop) - loop_cpu
    finally:
        client.stdin.close()
        client.wait(60)
    if not done or done["failures"]:
        raise RuntimeError(f"the LMTP client failed: {done.get('failures') or 'no result'}")
    return Delivered(elapsed, cpu, Split(loop_cpu, done["cpu_s"], max(cpu - loop_cpu, 0.0)))


def measure(storage: Path, members: int = 20, proposal_count: int = 10, connections: int = 4) -> LmtpResult:
    """`members` x `proposal_count` replies over `connections` LMTP connections, to the bare server then to jcbot."""
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
                                  "JCBOT_MAIL_FROM": "jc@jcm.bench.example", "JCBOT_LOG_LEVEL": "WARNING"}, dotenv=None)
    ctx = build_context(settings)
    try:
        jc = committee.build(ctx, members, proposal_count, slack=False)
        renderer = EmailRenderer(settings)
        messages = []
        for ref, pid in jc.proposals:
            for seat in jc.seats:
                to = renderer.token_address(pid, 1, seat.member_id)
                messages.append((seat.email, to, reply("gmail_yes.eml", to=to, sender=seat.email,
                                                       message_id=f"<agree-{pid}-{seat.handle}@members.bench.example>")))

        bare = _BareLmtp(_Accept(), hostname="127.0.0.1", port=0, server_hostname="bare")
        bare.start()
        try:
            bare_run = deliver("127.0.0.1", bare.port, messages, connections, bare.loop, storage)
        finally:
            bare.stop()

        listener = start_listener(ctx, host="127.0.0.1", port=0, protocol="lmtp")
        try:
            jcbot_run = deliver(listener.hostname, listener.port, messages, connections, listener.loop, storage)
        finally:
            listener.stop()
        with ctx.engine.connect() as conn:
            recorded = conn.execute(text("SELECT count(*) FROM assertion WHERE channel = 'email'")).scalar_one()
        if recorded != len(messages):
            raise RuntimeError(f"{recorded} of {len(messages)} replies recorded")
        return LmtpResult(len(messages), connections, jcbot_run.seconds, bare_run.seconds, jcbot_run.cpu_s,
                          bare_run.cpu_s, jcbot_run.split, bare_run.split)
    finally:
        ctx.close()
