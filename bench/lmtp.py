"""Email replies over LMTP: recorded per second by jcbot's listener, against a bare aiosmtpd LMTP server.

A committee of M members and P proposals is distributed (SQLite, jcbot's EmailRenderer);
each member answers each proposal with an "Agree" written like a Gmail reply
(tests/fixtures/replies/gmail_yes.eml) to the reply address carrying their token, the one
the distribution email gave them. The M x P replies are delivered over C LMTP connections at
once, one message after another on each, to jcbot's real listener (start_listener); LMTP
answers a message once it is handled, so delivered is recorded (checked in the database at
the end). Baseline in the same run: an aiosmtpd LMTP server whose handler answers 250 and
does nothing, the same client, the same messages. Besides the wall-clock rates, the
process's CPU time while each server took the replies (the client's threads are in this
process too, the same work in both runs): less swayed by other load on a shared machine.
That CPU is also split by thread: the server's event loop (aiosmtpd, and jcbot's handler
up to the hand-over), the client's threads, and the rest of the process (for jcbot, its
database threads: parsing and reading each reply, and the intake's transaction).
"""
from __future__ import annotations

import asyncio
import threading
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
    """A run's process CPU time by thread (seconds): the server's event loop, the client's threads, the rest."""

    loop_s: float
    client_s: float
    rest_s: float

    def per_reply_ms(self, replies: int) -> tuple[float, float, float]:
        return tuple(seconds / replies * 1000 for seconds in (self.loop_s, self.client_s, self.rest_s))


@dataclass(frozen=True)
class Delivered:
    seconds: float  # until every message was answered
    cpu_s: float  # the process's CPU time meanwhile (every thread)
    split: Split


@dataclass(frozen=True)
class LmtpResult:
    replies: int
    connections: int
    jcbot_s: float  # every reply answered (and recorded) by jcbot's listener
    bare_s: float  # every reply accepted by the bare server
    jcbot_cpu_s: float = 0.0  # process CPU time while jcbot's listener took them (every thread)
    bare_cpu_s: float = 0.0  # the same while the bare server did
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
            loop: asyncio.AbstractEventLoop) -> Delivered:
    """Send every (sender, to, raw) over `connections` LMTP connections at once to the server running on `loop`."""
    import smtplib

    shares = [messages[i::connections] for i in range(connections)]
    ready, barrier = threading.Barrier(connections + 1), threading.Barrier(connections + 1)
    failures: list[BaseException] = []
    client_cpu: list[float] = []

    def run(share: list[tuple[str, str, bytes]]) -> None:
        try:
            with smtplib.LMTP(host, port, timeout=120) as client:
                client.ehlo()
                ready.wait(60)
                barrier.wait(60)
                cpu = time.thread_time()
                for sender, to, raw in share:
                    client.sendmail(sender, [to], raw)
                client_cpu.append(time.thread_time() - cpu)
        except BaseException as exc:  # noqa: BLE001 - reported after the run
            ready.abort()
            barrier.abort()
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    ready.wait(60)  # every connection open and greeted: the loop's CPU from here on is the messages'
    loop_cpu = _loop_cpu(loop)
    barrier.wait(60)
    start, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    loop_cpu = _loop_cpu(loop) - loop_cpu
    if failures:
        raise RuntimeError(f"{len(failures)} connections failed: {failures[0]!r}")
    clients = sum(client_cpu)
    return Delivered(elapsed, cpu, Split(loop_cpu, clients, max(cpu - loop_cpu - clients, 0.0)))


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
            bare_run = deliver("127.0.0.1", bare.port, messages, connections, bare.loop)
        finally:
            bare.stop()

        listener = start_listener(ctx, host="127.0.0.1", port=0, protocol="lmtp")
        try:
            jcbot_run = deliver(listener.hostname, listener.port, messages, connections, listener.loop)
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
