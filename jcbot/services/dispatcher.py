"""Sends what the outbox holds: claim, send outside any transaction, record the outcome."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine

from jcbot.clock import Clock
from jcbot.services.groupcommit import GroupCommit
from jcbot.store import outbox, outbox_claims
from jcbot.store.db import session_scope
from jcbot.store.outbox import Outgoing

log = logging.getLogger(__name__)


class TemporaryFailure(Exception):
    """The channel could not take the message now; try again later."""

    def __init__(self, reason: str, retry_after: timedelta | float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # A number is seconds (as in an HTTP Retry-After header).
        if isinstance(retry_after, int | float):
            retry_after = timedelta(seconds=retry_after)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The channel refused the message for good (bad address, unknown channel id...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Sender(Protocol):
    """Delivers one message on one channel, or raises TemporaryFailure / PermanentFailure."""

    async def send(self, message: Outgoing) -> None:
        """Deliver `message`; returning means it was accepted."""
        ...


class PreparingSender(Sender, Protocol):
    """A sender that can get a claimed batch ready in one go before its sends (the email sender renders it)."""

    async def prepare(self, messages: list[Outgoing]) -> None:
        """Get `messages` (this channel's share of a claimed batch) ready; send() may then be quicker."""
        ...


class CheckingSender(Sender, Protocol):
    """A sender that can tell whether an interrupted earlier attempt arrived (Slack)."""

    async def already_delivered(self, message: Outgoing) -> bool:
        """Whether the earlier attempt of `message` (message.maybe_sent_at) landed."""
        ...


# Small batches: a crash leaves few claims behind, and several replicas share the queue.
BATCH = 10
# How long an outcome may wait for others to be recorded in the same transaction.
RECORD_LINGER_S = 0.01


def _urgent(item: tuple[str, object]) -> bool:
    # What the group commit writes at once: a start (its send waits) and a claim (the next
    # batch must be rendered before the connections run dry: a claim that waited for outcomes
    # drained 175 msg/s where one written at once drained 212, paired runs in one process).
    return item[0] in ("start", "claim")


def default_worker_id() -> str:
    """An id for a dispatcher nobody named: unique to this process and instance."""
    # Never reused, so it takes back nothing at start; `jcbot serve` passes a stable one.
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Dispatcher:
    """Delivers due outbox messages through the sender of their channel.

    Claims carry `worker` and a short lease renewed by a heartbeat while a pass runs;
    each message is marked in flight just before its send. The first pass takes back
    what an earlier life of the same worker held, and `stop()` + `release()` give the
    claims back at a graceful stop, so only a send interrupted mid-way may repeat.
    """

    def __init__(
        self, engine: Engine, senders: Mapping[str, Sender], clock: Clock, *,
        batch: int = BATCH, concurrency: int = 10, lease: timedelta = outbox.LEASE,
        worker: str | None = None,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.concurrency = concurrency
        self.worker = worker or default_worker_id()
        self._taken_back = False
        self._stopping = False

    def stop(self) -> None:
        """Take no new work: no further claims, no send that has not started yet."""
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """Whether stop() was called."""
        return self._stopping

    def release(self) -> int:
        """Give this worker's claims back to the queue at once (after stop(); synchronous)."""
        with session_scope(self.engine) as session:
            n = outbox_claims.release(session, now=self.clock.now(), worker=self.worker)
        if n:
            log.info("event=outbox.released worker=%s messages=%d", self.worker, n)
        return n

    def take_back(self) -> int:
        """Release the claims an earlier life of this worker left (killed mid-pass)."""
        with session_scope(self.engine) as session:
            n = outbox_claims.release(session, now=self.clock.now(), worker=self.worker)
        self._taken_back = True
        if n:
            log.info("event=outbox.taken_back worker=%s messages=%d", self.worker, n)
        return n

    async def close(self) -> None:
        """Close what the senders keep open (the SMTP connections); after a stop."""
        for sender in self.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as error:  # a stop goes on regardless
                    log.warning("outbox: closing a sender failed: %s", error)

    async def run_once(self) -> int:
        """Claim the due messages (one batch), send them, record each outcome; return how many."""
        return await self._pass(drain=False)

    async def drain(self) -> int:
        """Send while work is due (full batches come), until stopped; return how many were handled.

        The next batch is claimed while the last one is still being sent (once fewer than a
        batch remain unfinished), so the SMTP connections never wait for a pass to end.
        """
        return await self._pass(drain=True)

    async def _pass(self, drain: bool) -> int:
        if self._stopping:
            return 0
        if not self._taken_back:
            await asyncio.to_thread(self.take_back)
        unfinished: set[int] = set()
        # Made per pass: a semaphore belongs to the event loop that first used it.
        slots = asyncio.Semaphore(self.concurrency)
        # Claims, starts and outcomes share one group commit: the outcomes of the sends that
        # just went, the starts of the next ones and the claim of the batch after are written
        # together, not a transaction each.
        # An outcome waits a few milliseconds for others (the send is done, its slot free); a
        # start, which its send waits for, and a claim do not, and take what is queued along.
        writes = GroupCommit(self._write_all, linger_s=RECORD_LINGER_S, urgent=_urgent, enough=self.batch)
        progress = asyncio.Event()
        failed: list[BaseException] = []  # deliveries whose outcome could not be recorded
        tasks: list[asyncio.Task] = []
        pending: list[asyncio.Task] = []  # deliveries not finished yet
        heartbeat: asyncio.Task | None = None
        handled = 0
        try:
            while not self._stopping:
                claimed = await writes.submit(("claim", None))
                if not claimed:
                    break
                handled += len(claimed)
                unfinished.update(m.id for m in claimed)
                await self._prepare(claimed)
                if heartbeat is None:
                    heartbeat = asyncio.create_task(self._heartbeat(unfinished), name="outbox-heartbeat")
                batch = [asyncio.create_task(self._deliver(m, slots, unfinished, writes, progress, failed))
                         for m in claimed]
                tasks += batch
                pending += batch
                if not drain or len(claimed) < self.batch:
                    break
                while len(pending) >= self.batch and not self._stopping:
                    progress.clear()
                    await progress.wait()
                    pending = [t for t in pending if not t.done()]
                if failed:
                    break  # an outcome could not be recorded: no more claims in this pass
        finally:
            results = await asyncio.gather(*tasks, return_exceptions=True)
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            # Recording failed (database gone?): the message stays 'sending' and is
            # claimed again when its lease expires, so nothing is lost.
            log.error("outbox: could not record an outcome", exc_info=error)
        if errors:
            raise errors[0]
        return handled

    async def run_forever(self, stop_event: asyncio.Event, interval: float = 5.0) -> None:
        """Run passes every `interval` seconds (at once while a full batch was due) until stopped."""
        while not stop_event.is_set() and not self._stopping:
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("outbox: dispatch pass failed; trying again in %.0f s", interval)
                handled = 0
            if handled >= self.batch:
                continue
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=interval)
            except TimeoutError:
                pass

    def _claim(self, session) -> list[Outgoing]:
        # Only channels with a sender: Slack messages wait, pending, until Slack is set up.
        return outbox_claims.claim_due(
            session, self.clock.now(), self.batch,
            channels=tuple(self.senders), lease=self.lease, worker=self.worker,
        )

    async def _heartbeat(self, unfinished: set[int]) -> None:
        # Renew the lease every third of it, so it lapses only when this process is gone
        # (or stuck): then another worker takes the messages over within one lease.
        every = max(self.lease.total_seconds() / 3, 0.05)
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(self._renew, set(unfinished))
            except Exception as error:
                log.warning("outbox: could not renew the claims of %s: %s", self.worker, error)

    def _renew(self, ids: set[int]) -> None:
        with session_scope(self.engine) as session:
            outbox_claims.renew(session, ids, now=self.clock.now(), worker=self.worker, lease=self.lease)

    async def _deliver(self, message: Outgoing, slots: asyncio.Semaphore, unfinished: set[int],
                       writes: GroupCommit, progress: asyncio.Event, failed: list[BaseException]) -> None:
        try:
            await self._deliver_one(message, slots, unfinished, writes)
        except Exception as error:
            failed.append(error)  # seen by the pass without looking at every task it made
            raise
        finally:
            progress.set()

    async def _deliver_one(self, message: Outgoing, slots: asyncio.Semaphore, unfinished: set[int],
                           writes: GroupCommit) -> None:
        async with slots:
            # Stopping: a send not started yet is left for release(), pending at once.
            if self._stopping or not await writes.submit(("start", message)):
                if not self._stopping:
                    log.warning("event=outbox.claim_lost message=%s attempt=%s worker=%s",
                                message.id, message.attempt, self.worker)
                unfinished.discard(message.id)
                return
            sender = self.senders[message.channel]
            checking = message.maybe_sent_at is not None
            try:
                if checking and await self._landed(sender, message):
                    outcome = ("sent", "the interrupted earlier attempt had arrived", None)
                else:
                    checking = False
                    await sender.send(message)
                    outcome = ("sent", None, None)
            except PermanentFailure as refusal:
                outcome = ("failed", refusal.reason, None)
            except TemporaryFailure as failure:
                outcome = ("retry", failure.reason, failure.retry_after)
            except Exception as error:
                # A bug or an unexpected network error: retrying is the safe reading.
                log.warning("outbox: message %s: %s", message.id, error, exc_info=True)
                outcome = ("retry", f"{type(error).__name__}: {error}", None)
        # A check that could not be made leaves the earlier send unresolved: checked again next time.
        await writes.submit(("record", (message, *outcome, checking)))
        unfinished.discard(message.id)
        self._log(message, *outcome)

    async def _prepare(self, claimed: list[Outgoing]) -> None:
        """Let each sender that can get a claimed batch ready at once (the email sender renders it)."""
        for channel, sender in self.senders.items():
            prepare = getattr(sender, "prepare", None)
            if prepare is None:
                continue
            try:
                await prepare([m for m in claimed if m.channel == channel])
            except Exception as error:  # each send then does its own preparing, and reports
                log.warning("outbox: preparing %s messages failed: %s", channel, error)

    async def _landed(self, sender: Sender, message: Outgoing) -> bool:
        # Email has no way to ask: a repeat keeps its Message-ID so mail clients fold it.
        check = getattr(sender, "already_delivered", None)
        return bool(check is not None and await check(message))

    def _write_all(self, items: list[tuple[str, object]]) -> list[object]:
        """One transaction for what the pass submitted: ("record", outcome), ("start", message), ("claim", None).

        Returns, in order, None for an outcome, whether the send may start for a start and
        the claimed messages for a claim (the outcomes are written first, the claim last).
        """
        outcomes = [item for kind, item in items if kind == "record"]
        # Sends that went, starts and claims are Core statements: on a connection of its own,
        # the transaction skips the ORM session's bookkeeping (about 0.3 ms of CPU each on
        # SQLite). A retry or a failure (rare) is written through the ORM: then in a session.
        with (session_scope(self.engine) if any(o[1] != "sent" for o in outcomes)
              else self.engine.begin()) as db:
            now = self.clock.now()
            # The sends that went (nearly all) in one statement, the rest one by one.
            outbox.mark_sent_many(db, [o[0].id for o in outcomes if o[1] == "sent"], now=now)
            for outcome in outcomes:
                if outcome[1] != "sent":
                    self._record(db, *outcome)
            starting = [(m.id, m.attempt) for kind, m in items if kind == "start"]
            started = iter(outbox_claims.mark_in_flight_many(db, starting, now=now, worker=self.worker))
            # One pass claims one batch at a time: at most one claim in a group.
            claimed = self._claim(db) if any(kind == "claim" for kind, _ in items) else []
        return [next(started) if kind == "start" else claimed if kind == "claim" else None for kind, _ in items]

    def _record(self, session, message: Outgoing, status: str, reason: str | None,
                retry_after: timedelta | None, unresolved: bool = False) -> None:
        now = self.clock.now()
        if status == "sent":
            outbox.mark_sent(session, message.id, now=now)
        elif status == "failed":
            outbox.mark_failed(session, message.id, now=now, reason=reason or "", attempt=message.attempt)
        else:
            outbox.mark_retry(session, message.id, now=now, error=reason or "", retry_after=retry_after,
                              attempt=message.attempt, unresolved=unresolved)

    def _log(self, message: Outgoing, status: str, reason: str | None, _retry_after: object = None) -> None:
        # One line per delivery attempt: what, which proposal, which channel, outcome.
        level = logging.INFO if status == "sent" else logging.WARNING
        log.log(level, "event=outbox.%s channel=%s kind=%s message=%s proposal=%s attempt=%s%s%s", status,
                message.channel, message.kind, message.id, message.proposal_id, message.attempt,
                " repeat=yes" if message.maybe_sent_at is not None else "",
                f" reason={reason!r}" if reason else "")
