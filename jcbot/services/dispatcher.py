"""Sends what the outbox holds: claim, send outside any transaction, record the outcome."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Protocol

from sqlalchemy import Engine

from jcbot.clock import Clock
from jcbot.store import outbox
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


class Dispatcher:
    """Delivers due outbox messages through the sender of their channel."""

    def __init__(
        self, engine: Engine, senders: Mapping[str, Sender], clock: Clock, *,
        batch: int = 50, concurrency: int = 10, lease: timedelta = outbox.LEASE,
    ) -> None:
        self.engine = engine
        self.senders = dict(senders)
        self.clock = clock
        self.batch = batch
        self.lease = lease
        self.concurrency = concurrency

    async def run_once(self) -> int:
        """Claim the due messages, send them, record each outcome; return how many."""
        claimed = await asyncio.to_thread(self._claim)
        # Made per pass: a semaphore belongs to the event loop that first used it.
        slots = asyncio.Semaphore(self.concurrency)
        results = await asyncio.gather(
            *(self._deliver(m, slots) for m in claimed), return_exceptions=True
        )
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            # Recording failed (database gone?): the message stays 'sending' and is
            # claimed again when its lease expires, so nothing is lost.
            log.error("outbox: could not record an outcome", exc_info=error)
        if errors:
            raise errors[0]
        return len(claimed)

    async def run_forever(self, stop_event: asyncio.Event, interval: float = 5.0) -> None:
        """Run passes every `interval` seconds (at once while a full batch was due) until stopped."""
        while not stop_event.is_set():
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

    def _claim(self) -> list[Outgoing]:
        # Only channels with a sender: Slack messages wait, pending, until Slack is set up.
        with session_scope(self.engine) as session:
            return outbox.claim_due(
                session, self.clock.now(), self.batch,
                channels=tuple(self.senders), lease=self.lease,
            )

    async def _deliver(self, message: Outgoing, slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                await self.senders[message.channel].send(message)
            except PermanentFailure as refusal:
                outcome = ("failed", refusal.reason, None)
            except TemporaryFailure as failure:
                outcome = ("retry", failure.reason, failure.retry_after)
            except Exception as error:
                # A bug or an unexpected network error: retrying is the safe reading.
                log.warning("outbox: message %s: %s", message.id, error, exc_info=True)
                outcome = ("retry", f"{type(error).__name__}: {error}", None)
            else:
                outcome = ("sent", None, None)
        await asyncio.to_thread(self._record, message, *outcome)

    def _record(self, message: Outgoing, status: str, reason: str | None,
                retry_after: timedelta | None) -> None:
        now = self.clock.now()
        with session_scope(self.engine) as session:
            if status == "sent":
                outbox.mark_sent(session, message.id, now=now)
            elif status == "failed":
                outbox.mark_failed(
                    session, message.id, now=now, reason=reason or "", attempt=message.attempt
                )
            else:
                outbox.mark_retry(
                    session, message.id, now=now, error=reason or "",
                    retry_after=retry_after, attempt=message.attempt,
                )
        # One line per delivery attempt: what, which proposal, which channel, outcome.
        level = logging.INFO if status == "sent" else logging.WARNING
        log.log(level, "event=outbox.%s channel=%s kind=%s message=%s proposal=%s attempt=%s%s", status,
                message.channel, message.kind, message.id, message.proposal_id, message.attempt,
                f" reason={reason!r}" if reason else "")
