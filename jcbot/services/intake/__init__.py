"""One intake use case per input: identity, state, dedupe, recording and the verdict in one transaction.

An email reply, a Slack click and a letter each go through `take` with their own ordered
list of named rules (`rules.DIRECT` and the channels' chains); the outcome names the rule
that decided and the rules that passed, and the recording is the only step that acts.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from jcbot.services.context import ServiceContext, Tx
from jcbot.services.intake.case import Case
from jcbot.services.intake.chain import Rule, Stop, run
from jcbot.services.intake.record import Recorded, record, repeat

__all__ = ["Case", "Input", "Outcome", "Recorded", "Rule", "Stop", "take", "take_many"]


@dataclass(frozen=True)
class Outcome:
    """What became of one input: recorded, a duplicate, ignored or refused, and which rule said so."""

    outcome: Literal["recorded", "duplicate", "ignored", "refused"]
    rule: str                      # the rule that stopped it, or "record"
    reason: str
    passed: tuple[str, ...]        # the rules it passed, in order
    recorded: Recorded | None = None
    stop: Stop | None = None
    case: Case | None = None


def take(ctx: ServiceContext, actor: str, rules: Sequence[Rule], make_case: Callable[[Tx], Case],
         on_stop: Callable[[Case, Stop], None] | None = None) -> Outcome:
    """Run one input through its rules and record it, all in one transaction.

    `on_stop` acts on a stopped input inside the same transaction (an email refusal is
    enqueued with the outcome, or not at all).
    """
    with ctx.tx(actor) as tx:
        return _take(tx, rules, make_case, on_stop)


@dataclass(frozen=True)
class Input:
    """One input of `take_many`: who gave it (the audit's actor), its rules, how its case is made,
    and what acts on it if a rule stops it (as `take`'s `on_stop`)."""

    actor: str
    rules: Sequence[Rule]
    make_case: Callable[[Tx], Case]
    on_stop: Callable[[Case, Stop], None] | None = None


def take_many(ctx: ServiceContext, inputs: Sequence[Input], budget_s: float | None = None) -> list[Outcome | Exception]:
    """Inputs that came together (a burst of clicks), in order, in one transaction: a group commit.

    Each input runs in a savepoint of its own, exactly as `take` would run it alone (its
    instant read after the proposal's lock, its audit events under its own actor), and
    sees what the inputs before it recorded; one that raises is rolled back alone and
    its exception is its result. Nothing is recorded until the transaction commits: if
    the commit fails, this raises and none of them was. Returns a result for the first
    inputs only once `budget_s` (seconds) has passed, so the write lock is not held
    for a whole burst: the caller takes the rest in a new call.
    """
    if not inputs:
        return []
    out: list[Outcome | Exception] = []
    end = None if budget_s is None else time.monotonic() + budget_s
    with ctx.tx(inputs[0].actor) as tx:
        for one in inputs:
            if out and end is not None and time.monotonic() > end:
                break
            tx.actor = one.actor
            try:
                with tx.session.begin_nested():  # released (and the ORM's changes flushed) before the next
                    out.append(_take(tx, one.rules, one.make_case, one.on_stop))
            except Exception as error:  # noqa: BLE001 - that input's result; the others go on
                out.append(error)
    return out


def _take(tx: Tx, rules: Sequence[Rule], make_case: Callable[[Tx], Case],
          on_stop: Callable[[Case, Stop], None] | None) -> Outcome:
    case = make_case(tx)
    result = run(rules, case)
    if result.stop is None:
        done = record(case, tx.actor)
        return Outcome("recorded", "record", f"{case.position} of {case.handle} on {case.ref} "
                       f"version {case.version.version if case.version else '?'} ({done.status})",
                       result.passed, done, None, case)
    stop = result.stop
    done = None
    if stop.outcome == "duplicate" and stop.assertion_id is not None:
        done = repeat(case, stop.assertion_id)
    if on_stop is not None:
        on_stop(case, stop)
    return Outcome(stop.outcome, result.stopped_by or "", stop.reason, result.passed, done, stop, case)
