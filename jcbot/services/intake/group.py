"""Inputs that come at once from several threads, taken in one transaction (a group commit).

An email reply is taken in the thread that received it (LMTP and SMTP deliveries side by
side, Maildir and IMAP polls). On SQLite their transactions can only run one after the
other, each waiting for the write lock in SQLite's busy handler (which sleeps) and each
paying its own commit. Here the first thread to come takes what has queued meanwhile,
its own input included, with `take_many`: each input in a savepoint of its own, exactly
as `take` would take it alone, one commit for all. The others wait for their outcome;
if more came meanwhile, the first of them takes those next. On PostgreSQL each input
keeps a transaction of its own (see `Group.together`).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from jcbot.services.context import ServiceContext
from jcbot.services.intake import Input, Outcome, take, take_many

_LEAD = object()  # what a waiting thread is handed when it is to take the next group


@dataclass
class _Waiting:
    one: Input
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None

    def hand(self, result: object) -> None:
        self.result = result
        self.done.set()


class Group:
    """One context's inputs taken together; `take` is called from any thread."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        # SQLite has one writer at a time anyway. On PostgreSQL one transaction holding the
        # locks of several proposals until its commit could deadlock with another process's.
        self.together = ctx.engine.dialect.name == "sqlite"
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._taking = False
        self.groups = 0  # transactions taken (tests read it)

    def take(self, one: Input) -> Outcome:
        """Take `one` (with whatever else is waiting); its outcome, or what it raised, raised here."""
        if not self.together:
            return take(self.ctx, one.actor, one.rules, one.make_case, one.on_stop)
        me = _Waiting(one)
        with self._lock:
            self._queue.append(me)
            lead, self._taking = not self._taking, True
        if not lead:
            me.done.wait()
            if me.result is not _LEAD:
                return self._outcome(me)
        self._take_groups(me)
        return self._outcome(me)

    def _take_groups(self, me: _Waiting) -> None:
        # Groups until this thread's own input is taken; then the next waiting thread leads.
        while not me.done.is_set() or me.result is _LEAD:
            me.done.clear()
            with self._lock:
                group, self._queue = self._queue, []
            self._take_one_group(group)
        with self._lock:
            if self._queue:
                self._queue[0].hand(_LEAD)
            else:
                self._taking = False

    def _take_one_group(self, group: list[_Waiting]) -> None:
        try:
            results: list[object] = list(take_many(self.ctx, [w.one for w in group]))
        except BaseException as error:  # noqa: BLE001 - the commit failed: nothing of the group was recorded
            results = [error] * len(group)
        self.groups += 1
        for w, result in zip(group, results):
            w.hand(result)

    @staticmethod
    def _outcome(me: _Waiting) -> Outcome:
        if isinstance(me.result, BaseException):
            raise me.result
        return me.result  # type: ignore[return-value]


def group_of(ctx: ServiceContext) -> Group:
    """The context's one Group (every thread taking inputs for it shares it)."""
    return ctx.shared("intake.group", lambda: Group(ctx))
