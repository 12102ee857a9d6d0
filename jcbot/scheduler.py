"""APScheduler wakes the work; the database decides it (ARCHITECTURE.md).

Jobs: an alarm at the next deadline (re-armed after every tick), a periodic
reconciliation tick (sweep, reminders, digests, duties), the outbox dispatcher, the
IMAP poller and the Maildir poller. Only the leader among replicas (jcbot/leadership.py) sweeps, keeps the alarm,
sends reminders and polls IMAP; every process dispatches. Every job is idempotent: run late, twice, or after downtime, it records
adoption at the instant the core gives and sends each notice once.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger

from jcbot.services import public_inputs, queries, reminders, sweep
from jcbot.services.context import ServiceContext
from jcbot.services.dispatcher import Dispatcher

log = logging.getLogger("jcbot.scheduler")
DUTIES_EVERY = timedelta(hours=1)
FULL_SWEEP_EVERY = timedelta(hours=1)
# How long a stop waits for a running tick or dispatch pass before cancelling it.
STOP_GRACE_S = 10.0


class Scheduler:
    """The process's alarm clock: owns the APScheduler and the jobs' bodies."""

    def __init__(self, ctx: ServiceContext, dispatcher: Dispatcher,
                 poll_inbox: Callable[[], Awaitable[int]] | None = None,
                 poll_maildir: Callable[[], Awaitable[int]] | None = None) -> None:
        self.ctx = ctx
        self.dispatcher = dispatcher
        self.poll_inbox = poll_inbox
        # The Maildir is looked into by every process (a rename hands each message to one of them).
        self.poll_maildir = poll_maildir
        self.aps = AsyncIOScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        self._tick_lock = asyncio.Lock()
        self._dispatch_lock = asyncio.Lock()
        self._last_duties: datetime | None = None
        self._last_full: datetime | None = None
        self.leading = False
        self._stopping = False
        # The job bodies running now, and the dispatch passes a tick started: a stop waits for them.
        self._running: set[asyncio.Task] = set()
        self._spawned: set[asyncio.Task] = set()
        # wake(): the loop to hand the wake-up to, and whether a woken pass is already waiting to run.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken = False

    def start(self, lead: bool = True) -> None:
        """Start the dispatcher's job, and the leader's jobs unless a Leadership hands them over later."""
        s = self.ctx.settings
        self._loop = asyncio.get_running_loop()
        # At once: a restarted process takes back its claims and resumes delivery without waiting.
        self.aps.add_job(self.dispatch, "interval", seconds=s.dispatch_interval, id="dispatch",
                         next_run_time=self.ctx.clock.now())
        if self.poll_maildir is not None:
            self.aps.add_job(self.maildir, "interval", seconds=s.inbound_maildir_interval, id="maildir",
                             next_run_time=self.ctx.clock.now())
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

    async def shutdown(self, grace: float = STOP_GRACE_S) -> None:
        """Take no new work, let a running tick or dispatch pass finish (up to `grace` s), give the claims back."""
        self._stopping = True
        if self.dispatcher is not None:
            self.dispatcher.stop()  # no new batch, no send that has not started
        if self.aps.running:
            self.aps.pause()  # wakes nothing more; running jobs go on
        running = [t for t in self._running | self._spawned if not t.done()]
        if running:
            _, late = await asyncio.wait(running, timeout=grace)
            if late:
                # Cancelled inside _job (a warning, no traceback); a send cut short keeps its
                # in-flight mark, so the next attempt knows it may have arrived.
                log.warning("event=serve.stop_grace_exceeded jobs=%d grace_s=%g", len(late), grace)
                for task in late:
                    task.cancel()
                await asyncio.wait(late, timeout=5)
        # Nothing is running: APScheduler has nothing left to cancel.
        self.aps.shutdown(wait=False)
        if self.dispatcher is None:
            return
        try:
            await asyncio.to_thread(self.dispatcher.release)
        except Exception as error:  # the database is gone: the short lease frees them instead
            log.warning("event=outbox.release outcome=error error=%r", error)

    @contextlib.asynccontextmanager
    async def _job(self, name: str):
        # Tracks a running job body for shutdown(); a cancellation at a stop ends it quietly.
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            yield
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            log.warning("event=%s outcome=cancelled_at_stop", name)
        finally:
            self._running.discard(task)

    def wake(self) -> None:
        """Dispatch now: something was enqueued and committed (ServiceContext.on_enqueued; any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed() or self._stopping:
            return
        try:
            loop.call_soon_threadsafe(self._wake)
        except RuntimeError:  # the loop closed meanwhile (stopping)
            pass

    def _wake(self) -> None:
        # One woken pass waiting is enough: it claims whatever was enqueued before it starts.
        if self._woken or self._stopping:
            return
        self._woken = True
        self._dispatch_soon()

    def _dispatch_soon(self) -> None:
        task = asyncio.get_running_loop().create_task(self.dispatch())
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def tick(self) -> None:
        """Sweep open proposals, send due reminders, digests and duties, re-arm the deadline alarm."""
        if self._stopping:
            return
        async with self._job("tick"), self._tick_lock:
            try:
                result = await asyncio.to_thread(sweep.sweep, self.ctx, "scheduler", self._full_sweep_due())
                for ref, status in result.changed:
                    log.info("event=proposal.%s proposal=%s outcome=recorded", status, ref)
                if result.changed:
                    # Adoption notices go out now, not after the reminders' pass over every open proposal.
                    self._dispatch_soon()
                sent = await asyncio.to_thread(reminders.send_reminders, self.ctx)
                sent += await asyncio.to_thread(reminders.send_digests, self.ctx)
                now = self.ctx.clock.now()
                if self._last_duties is None or now - self._last_duties >= DUTIES_EVERY:
                    sent += await asyncio.to_thread(reminders.flag_duties, self.ctx)
                    purged = await asyncio.to_thread(public_inputs.purge_unconfirmed, self.ctx)
                    if purged:
                        log.info("event=inputs.purged count=%d", purged)
                    self._last_duties = now
                if sent:
                    self._dispatch_soon()
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
        """Drain the outbox: dispatcher passes back to back while full batches come."""
        if self._stopping:
            return
        async with self._job("outbox.dispatch"), self._dispatch_lock:
            self._woken = False  # what is enqueued from here on wakes another pass
            try:
                n = await self.dispatcher.drain()
                if n:
                    log.info("event=outbox.dispatch handled=%d", n)
            except Exception:
                log.exception("event=outbox.dispatch outcome=error")

    async def poll(self) -> None:
        """One IMAP poll."""
        if self._stopping:
            return
        async with self._job("imap.poll"):  # a stop waits for it too, then cancels it quietly
            try:
                assert self.poll_inbox is not None
                n = await self.poll_inbox()
                if n:
                    log.info("event=imap.poll handled=%d", n)
                    await self.dispatch()
            except Exception:
                log.exception("event=imap.poll outcome=error")

    async def maildir(self) -> None:
        """One look into the Maildir's new/."""
        if self._stopping:
            return
        async with self._job("maildir.poll"):
            try:
                assert self.poll_maildir is not None
                n = await self.poll_maildir()
                if n:
                    log.info("event=maildir.poll handled=%d", n)
            except Exception:
                log.exception("event=maildir.poll outcome=error")
