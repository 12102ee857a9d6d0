"""APScheduler wakes the work; the database decides it (ARCHITECTURE.md).

Jobs: an alarm at the next deadline (re-armed after every tick), a periodic
reconciliation tick (sweep, reminders, digests, duties), the outbox dispatcher and the
IMAP poller. Only the leader among replicas (jcbot/leadership.py) sweeps, keeps the alarm,
sends reminders and polls IMAP; every process dispatches. Every job is idempotent: run late, twice, or after downtime, it records
adoption at the instant the core gives and sends each notice once.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from jcbot.services import queries, reminders
from jcbot.services.context import ServiceContext
from jcbot.services.dispatcher import Dispatcher

log = logging.getLogger("jcbot.scheduler")
DUTIES_EVERY = timedelta(hours=1)
FULL_SWEEP_EVERY = timedelta(hours=1)


class Scheduler:
    """The process's alarm clock: owns the APScheduler and the jobs' bodies."""

    def __init__(self, ctx: ServiceContext, dispatcher: Dispatcher,
                 poll_inbox: Callable[[], Awaitable[int]] | None = None) -> None:
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.poll_inbox = poll_inbox
        self.aps = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._tick_lock = asyncio.Lock()
        self._dispatch_lock = asyncio.Lock()
        self._last_duties: datetime | None = None
        self._last_full: datetime | None = None
        self.leading = False

    def start(self, lead: bool = True) -> None:
        """Start the dispatcher's job, and the leader's jobs unless a Leadership hands them over later."""
        s = self.ctx.settings
        self.aps.add_job(self.dispatch, "interval", seconds=s.dispatch_interval, id="dispatch")
        self.aps.start()
        if lead:
            self.set_leader(True)

    def set_leader(self, leader: bool) -> None:
        """Take the leader-only jobs (sweeps, deadline alarm, reminders, IMAP), or drop them (jcbot/leadership.py)."""
        self.leading = leader
        if not self.aps.running:  # stopping: nothing more to start
            return
        if not leader:
            for job in ("sweep", "deadline", "imap"):
                if self.aps.get_job(job):
                    self.aps.remove_job(job)
            return
        # Rebuilt from the database: the first tick sweeps every open proposal (a deadline
        # passed while no one led is adopted at its instant), then arms the deadline alarm.
        self._last_full = None
        now, s = self.ctx.clock.now(), self.ctx.settings
        self.aps.add_job(self.tick, "interval", seconds=s.sweep_interval, id="sweep", next_run_time=now, replace_existing=True)
        if self.poll_inbox is not None:
            self.aps.add_job(self.poll, "interval", seconds=s.inbound_imap_interval, id="imap", next_run_time=now, replace_existing=True)

    async def shutdown(self) -> None:
        """Stop waking jobs; let a running tick or dispatch pass finish (nothing half-sent)."""
        self.aps.shutdown(wait=False)
        async with self._tick_lock, self._dispatch_lock:
            pass

    async def tick(self) -> None:
        """Sweep open proposals, send due reminders, digests and duties, re-arm the deadline alarm."""
        async with self._tick_lock:
            try:
                result = await asyncio.to_thread(queries.sweep, self.ctx, "scheduler", self._full_sweep_due())
                for ref, status in result.changed:
                    log.info("event=proposal.%s proposal=%s outcome=recorded", status, ref)
                if result.changed:
                    # Adoption notices go out now, not after the reminders' pass over every open proposal.
                    asyncio.get_running_loop().create_task(self.dispatch())
                sent = await asyncio.to_thread(reminders.send_reminders, self.ctx)
                sent += await asyncio.to_thread(reminders.send_digests, self.ctx)
                now = self.ctx.clock.now()
                if self._last_duties is None or now - self._last_duties >= DUTIES_EVERY:
                    sent += await asyncio.to_thread(reminders.flag_duties, self.ctx)
                    self._last_duties = now
                if sent:
                    asyncio.get_running_loop().create_task(self.dispatch())
            except Exception:
                log.exception("event=tick outcome=error")
            await self._arm_deadline()

    def _full_sweep_due(self) -> bool:
        # At start (rebuild from the database) and hourly: look at every open proposal,
        # not only those past their deadline, in case something was missed.
        now = self.ctx.clock.now()
        if self._last_full is None or now - self._last_full >= FULL_SWEEP_EVERY:
            self._last_full = now
            return True
        return False

    async def _arm_deadline(self) -> None:
        nxt = await asyncio.to_thread(queries.next_change, self.ctx)
        if not self.leading:  # stepped down during the tick: the new leader keeps the alarm
            return
        if nxt is None:
            if self.aps.get_job("deadline"):
                self.aps.remove_job("deadline")
            return
        # A hair after the deadline: the core judges an instant >= deadline as passed.
        self.aps.add_job(self.tick, DateTrigger(run_date=nxt + timedelta(milliseconds=1)), id="deadline", replace_existing=True)
        log.debug("event=alarm deadline=%s", nxt.isoformat())

    async def dispatch(self) -> None:
        """One pass of the outbox dispatcher."""
        async with self._dispatch_lock:
            try:
                n = await self.dispatcher.run_once()
                if n:
                    log.info("event=outbox.dispatch handled=%d", n)
            except Exception:
                log.exception("event=outbox.dispatch outcome=error")

    async def poll(self) -> None:
        """One IMAP poll."""
        try:
            assert self.poll_inbox is not None
            n = await self.poll_inbox()
            if n:
                log.info("event=imap.poll handled=%d", n)
                await self.dispatch()
        except Exception:
            log.exception("event=imap.poll outcome=error")
