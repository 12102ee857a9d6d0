"""The dispatcher as `jcbot serve` runs it, against raw aiosmtplib, to a real aiosmtpd server on 127.0.0.1.

Measured in the same run, on SQLite, in-process (the scheduler, its wake-up, the
dispatcher and the SMTP sender exactly as `serve` wires them):

- fan-out: one proposal distributed to 20 members; from `distribute` returning until all
  20 emails are at the SMTP server (the notices are data in the outbox: each is rendered
  when it is sent). Baseline: the same 20 messages, already rendered, sent by plain
  aiosmtplib over one connection.
- throughput: N emails queued (notices as data), drained by the dispatcher; baseline: the
  same N rendered messages sent by plain aiosmtplib over one reused connection (the best
  of three runs).
- the ceiling of rendering at send time: the same N notices, each rendered by jcbot's
  email renderer just before plain aiosmtplib sends it over one reused connection (no
  database, no dispatcher; the best of two runs, taken in turns with the raw baseline's).
  No dispatcher that renders in this process can beat it.
"""
from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
from aiosmtpd.controller import Controller

from sqlalchemy import select

from jcbot.app import build_context
from jcbot.channels.email.signing import wire_bytes
from jcbot.channels.email.smtp import SmtpSender
from jcbot.cli.serve import _senders
from jcbot.resources import resolve_rules
from jcbot.scheduler import Scheduler
from jcbot.services import proposals, roster
from jcbot.services.context import ServiceContext
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import load_settings
from jcbot.store.outbox import OutboxMessage, Outgoing

MEMBERS = [(f"j{i:02d}", "japan") for i in range(10)] + [(f"h{i:02d}", "host") for i in range(10)]
ACTOR = "bench"
ROUNDS = 5
BASELINE_ROUNDS = 2  # rounds of the rendering baseline, each followed by one more of the raw one


class _Inbox:
    """An aiosmtpd handler that keeps what it accepts and says when `want` messages arrived."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.got: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            self.got.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
            self.lock.notify_all()
        return "250 OK"

    def reset(self) -> list[tuple[str, list[str], bytes]]:
        with self.lock:
            got, self.got = self.got, []
            return got

    async def wait(self, want: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.got) < want:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.got)} of {want} messages at the SMTP server after {timeout} s")
            await asyncio.sleep(0.001)


@dataclass(frozen=True)
class DispatchResult:
    fanout_s: list[float]  # distribute returned -> all 20 at the server, per round
    raw_fanout_s: float  # the same 20 by plain aiosmtplib, one connection
    queued: int
    drain_s: float  # N queued -> all at the server
    raw_drain_s: float  # the same N by plain aiosmtplib, one reused connection
    connections: int  # SMTP connections the dispatcher opened in the whole run
    drain_cpu_s: float = 0.0  # process CPU (every thread: the server's too) during the drain
    raw_drain_cpu_s: float = 0.0  # the same during the raw baseline
    render_drain_s: float = 0.0  # the same N, each rendered by jcbot's renderer, then sent by plain aiosmtplib

    @property
    def throughput_ratio(self) -> float:
        """dispatcher msg/s over raw msg/s."""
        return self.raw_drain_s / self.drain_s

    @property
    def render_ceiling(self) -> float:
        """raw msg/s rendering each at send time over raw msg/s: the best a dispatcher rendering in-process can do."""
        return self.raw_drain_s / self.render_drain_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _context(storage: Path, port: int) -> ServiceContext:
    settings = load_settings(env={
        "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
        "JCBOT_SMTP_HOST": "127.0.0.1", "JCBOT_SMTP_PORT": str(port), "JCBOT_SMTP_SECURITY": "none",
        "JCBOT_DISPATCH_INTERVAL": "3600", "JCBOT_SWEEP_INTERVAL": "3600"}, dotenv=None)
    ctx = build_context(settings)
    path = resolve_rules("japan-mongolia")
    roster.create_committee(ctx, "bench", path.read_text(encoding="utf-8"), str(path), ACTOR)
    for handle, gov in MEMBERS:
        roster.add_member(ctx, "bench", handle, gov, ACTOR, email=f"{handle}@bench.example")
    roster.elect_cochair(ctx, "bench", "japan", "j00", ACTOR)
    roster.elect_cochair(ctx, "bench", "host", "h00", ACTOR)
    return ctx


def _distribute(ctx: ServiceContext, title: str) -> None:
    p = proposals.draft(ctx, "bench", title, "Text.", [proposals.Item("methodology_approval", "Boilers")], ACTOR)
    proposals.distribute(ctx, p.ref, ACTOR)


async def _raw(port: int, messages: list[tuple[str, list[str], bytes]]) -> float:
    began = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        for mail_from, rcpt_to, data in messages:
            await client.sendmail(mail_from, rcpt_to, data)
    return time.perf_counter() - began


async def _run(ctx: ServiceContext, inbox: _Inbox, port: int, queued: int) -> DispatchResult:
    senders = _senders(ctx.settings)
    dispatcher = Dispatcher(ctx.engine, senders, ctx.clock, worker="bench:0")
    scheduler = Scheduler(ctx, dispatcher)
    ctx.on_enqueued = scheduler.wake  # as `jcbot serve` wires it
    scheduler.start(lead=False)
    fanout = []
    try:
        await asyncio.sleep(0.5)  # the start pass has nothing to do
        for r in range(ROUNDS):
            inbox.reset()
            await asyncio.to_thread(_distribute, ctx, f"Fan-out {r}")
            began = time.perf_counter()
            await inbox.wait(len(MEMBERS))
            fanout.append(time.perf_counter() - began)
        twenty = inbox.reset()
        raw_fanout = min([await _raw(port, twenty) for _ in range(3)])
        inbox.reset()
        # The queue: notices enqueued with no wake-up (another process wrote them), then one drain.
        ctx.on_enqueued = None
        for r in range(-(-queued // len(MEMBERS))):
            await asyncio.to_thread(_distribute, ctx, f"Queued {r}")
        total = -(-queued // len(MEMBERS)) * len(MEMBERS)
        began, cpu = time.perf_counter(), time.process_time()
        await scheduler.dispatch()
        await inbox.wait(total)
        drain_s, drain_cpu = time.perf_counter() - began, time.process_time() - cpu
        connections = senders["email"].pool.opened  # over the whole run (fan-outs and the drain)
    finally:
        await scheduler.shutdown()
        await dispatcher.close()
    drained = inbox.reset()
    cpu = time.process_time()
    raws = [await _raw(port, drained)]
    raw_cpu = time.process_time() - cpu
    inbox.reset()
    # The two baselines in turns, the best of each: other work on the machine sways a single run.
    claimed, rendered = _sent(ctx, total), []
    for _ in range(BASELINE_ROUNDS):
        rendered.append(await _rendered(port, senders["email"], claimed))
        inbox.reset()
        raws.append(await _raw(port, drained))
        inbox.reset()
    return DispatchResult(fanout, raw_fanout, total, drain_s, min(raws), connections, drain_cpu, raw_cpu,
                          min(rendered))


def _sent(ctx: ServiceContext, count: int) -> list[Outgoing]:
    """The last `count` emails sent, as the dispatcher claimed them (their notices as data)."""
    with ctx.read() as tx:
        rows = tx.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "email",
                                                              OutboxMessage.status == "sent")
                                  .order_by(OutboxMessage.id.desc()).limit(count)).all()
        return [Outgoing(r.id, r.channel, r.kind, r.recipient, r.dedupe_key, r.payload, r.attempts,
                         r.committee_id, r.proposal_id) for r in reversed(rows)]


async def _rendered(port: int, sender: SmtpSender, messages: list[Outgoing]) -> float:
    """Each message rendered as the SMTP sender renders it (its renderer, then its wire bytes) just before
    plain aiosmtplib sends it, over one reused connection."""
    began = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
        for m in messages:
            payload = sender.renderer.for_outbox(m)
            assert payload is not None, f"outbox message {m.id} reaches no one"
            data = await wire_bytes(m.id, payload["message"], sender.signer)
            await client.sendmail(payload["mail_from"], payload["rcpt_to"], data)
    return time.perf_counter() - began


def measure(storage: Path, queued: int = 500) -> DispatchResult:
    """Fan-out and throughput of the dispatcher, and their raw baselines, in one run."""
    inbox = _Inbox()
    port = _free_port()
    server = Controller(inbox, hostname="127.0.0.1", port=port)
    server.start()
    ctx = _context(storage, port)
    try:
        return asyncio.run(_run(ctx, inbox, port, queued))
    finally:
        ctx.close()
        server.stop()


def median(xs: list[float]) -> float:
    return statistics.median(xs)
