"""One intake use case per input: identity, state, dedupe, recording and the verdict in one transaction.

An email reply, a Slack click and a letter each go through `take` with their own ordered
list of named rules (`rules.DIRECT` and the channels' chains); the outcome names the rule
that decided and the rules that passed, and the recording is the only step that acts.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from jcbot.services.context import ServiceContext, Tx
from jcbot.services.intake.case import Case
from jcbot.services.intake.chain import Rule, Stop, run
from jcbot.services.intake.record import Recorded, record, repeat

__all__ = ["Case", "Outcome", "Recorded", "Rule", "Stop", "take"]


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
        case = make_case(tx)
        result = run(rules, case)
        if result.stop is None:
            done = record(case, actor)
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
