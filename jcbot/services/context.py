"""What every service runs in: the database, the clock, the settings, the renderers.

A service opens one transaction (`ServiceContext.tx`), reads the facts, asks the core
for a verdict, writes state, appends audit events and enqueues the notices it causes,
all committed together or not at all.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

from jcbot.clock import Clock
from jcbot.settings import Settings
from jcbot.store import audit, outbox
from jcbot.services import outgoing
from jcbot.services.outgoing import Notice, Recipient
from jcbot.services.roster_log import SESSION_KEY as ROSTERS
from jcbot.services.roster_log import RosterCache
from jcbot.store.db import read_scope, session_scope

__all__ = ["Notice", "Recipient", "Rendered", "Renderer", "ServiceContext", "ServiceError", "Tx"]
T = TypeVar("T")
DEFAULT_DB_THREADS = 8


class ServiceError(ValueError):
    """A request a service refuses (not found, wrong state...); nothing was changed."""


@dataclass(frozen=True)
class Rendered:
    """One outbox row a renderer made from a notice."""

    channel: str
    recipient: str
    payload: dict


class Renderer(Protocol):
    """Turns a notice into the message(s) of one channel, at send time (none if it cannot reach the recipient).

    In the context, the renderers name the channels notices are enqueued for.
    """

    channel: str

    def render(self, notice: Notice) -> list[Rendered]:
        ...


@dataclass
class ServiceContext:
    """The engine, the clock, the settings and the channel renderers services use."""

    engine: Engine
    clock: Clock
    settings: Settings
    renderers: list[Renderer] = field(default_factory=list)
    # Replayed rosters, shared by every unit of work of this context (see roster_log).
    rosters: RosterCache = field(default_factory=RosterCache, repr=False)
    # Called (from any thread) after a transaction that enqueued notices commits: `serve`
    # wakes its dispatcher with it, so notices go out at once, not at the next interval.
    on_enqueued: Callable[[], None] | None = field(default=None, repr=False)
    _pool: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _pool_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """One object per context under `key`, made on first use from any thread (the intake's group commit)."""
        with self._pool_lock:
            if key not in self._shared:
                self._shared[key] = make()
            return self._shared[key]

    @contextmanager
    def tx(self, actor: str) -> Iterator[Tx]:
        """One transaction, as `actor`, at an instant read once the transaction has begun.

        On SQLite the transaction begins with BEGIN IMMEDIATE (the write lock), so the
        instant is read after every earlier writer committed; on PostgreSQL the service
        calls `Tx.after_lock` once it holds the row lock that guards what it changes.
        For changes only: a read opens `read`, which never takes the write lock.
        """
        replayed: list = []
        with session_scope(self.engine) as session:
            session.info[ROSTERS] = (self.rosters, replayed)
            session.connection()  # begin now: the clock is read after the lock, never before
            tx = Tx(session, self.clock.now(), actor, self)
            yield tx
        # Committed: rosters replayed here (perhaps with this transaction's own change) are now facts.
        self.rosters.put_all(replayed)
        if tx.enqueued and self.on_enqueued is not None:
            self.on_enqueued()  # after the commit: a dispatcher woken before it would find nothing

    @contextmanager
    def read(self, actor: str = "reader") -> Iterator[Tx]:
        """A read-only unit of work (views, pages): never waits for writers, never writes."""
        with read_scope(self.engine) as session:
            session.info[ROSTERS] = (self.rosters, None)
            yield Tx(session, self.clock.now(), actor, self, read_only=True)

    @property
    def db_threads(self) -> int:
        """How many service calls run at once (JCBOT_DB_THREADS): the size of `run`'s pool."""
        return int(getattr(self.settings, "db_threads", None) or DEFAULT_DB_THREADS)

    def executor(self) -> ThreadPoolExecutor:
        """The bounded thread pool that runs (synchronous, database) service calls for the async channels."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.db_threads, thread_name_prefix="jcbot-db")
            return self._pool

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a service call off the event loop, in the context's pool (at most db_threads at once).

        Bounded to the engine's pool, so a burst of clicks queues here instead of holding
        threads that wait for a database connection (the default executor would not).
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor(), partial(fn, *args, **kwargs))

    def close(self) -> None:
        """Stop the thread pool (waiting for running calls) and close the database connections."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


@dataclass
class Tx:
    """A unit of work: session, instant, actor; audit and outbox writes join it."""

    session: Session
    now: datetime
    actor: str
    ctx: ServiceContext
    read_only: bool = False
    enqueued: int = 0  # outbox rows this unit of work wrote

    def after_lock(self) -> datetime:
        """Read the clock again now that a lock is held; returns the new instant.

        A transaction that waited for a lock must not judge at the instant it read before
        waiting: the writer it waited for may have recorded a later assertion, and a
        verdict at the earlier instant would not see it (a unanimity left unrecorded).
        Call it before anything is written with `now`.
        """
        self.now = max(self.now, self.ctx.clock.now())
        return self.now

    def audit(self, action: str, subject: str, data: dict[str, Any], committee_id: int | None = None) -> audit.Appended:
        """Append an audit event for this change."""
        if self.read_only:
            raise RuntimeError(f"{action}: a read-only unit of work cannot change anything")
        return audit.append(self.session, at=self.now, actor=self.actor, action=action,
                            subject=subject, data=data, committee_id=committee_id)

    def notify(self, notice: Notice) -> int:
        """Enqueue a notice, as data, on every channel that can reach its recipient; returns rows enqueued."""
        return self.notify_all([notice])

    def notify_all(self, notices: list[Notice]) -> int:
        """`notify` for several notices (an adoption's, one per member), in one outbox statement."""
        if self.read_only:
            raise RuntimeError(f"{notices[0].kind if notices else 'notice'}: a read-only unit of work cannot send anything")
        # No rendering here (STYLE habit 13): each channel renders the notice when it sends it.
        rows = []
        for notice in notices:
            reach = [(r.channel, to) for r in self.ctx.renderers if r.channel in notice.channels
                     if (to := outgoing.address(r.channel, notice, self.ctx.settings))]
            if not reach:
                continue
            payload = outgoing.to_payload(notice)
            rows += [dict(now=self.now, channel=channel, kind=notice.kind, recipient=to,
                          dedupe_key=f"{channel}:{notice.key}", payload=payload, committee_id=notice.committee_id,
                          proposal_id=notice.proposal_id) for channel, to in reach]
        if not rows:
            return 0
        count = outbox.enqueue_many(self.session, rows)
        self.enqueued += count
        return count

    def pending_notice(self, notice: Notice) -> bool:
        """Whether some channel that can reach the recipient has not enqueued this notice yet."""
        return any(not outbox.exists(self.session, f"{r.channel}:{notice.key}")
                   for r in self.ctx.renderers
                   if r.channel in notice.channels and outgoing.address(r.channel, notice, self.ctx.settings))
