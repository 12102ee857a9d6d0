"""The intake's engine: an ordered list of small named rules, then one terminal step.

In the manner of GNU Mailman's rules and chains: each rule has a name, a line saying
what it checks, and a `check` that looks at the case and either lets it pass (None) or
stops it (`Stop`: refused, duplicate or ignored). The engine notes which rules passed
and which one decided; only the terminal step, recording, acts. A rule may resolve what
later rules look at (the proposal a token names, the member a Slack user is), and says
so in its description.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Stopped = Literal["refused", "duplicate", "ignored"]


@dataclass(frozen=True)
class Stop:
    """Why a rule ended the intake: what becomes of the input and the reason, in words for its sender."""

    outcome: Stopped
    reason: str
    assertion_id: int | None = None   # a duplicate: the assertion recorded before
    error: Exception | None = None    # the refusal as raised by the core or a service, kept for direct callers
    data: dict[str, Any] | None = None  # what a refusal message may show (the proposal, once known)


@dataclass(frozen=True)
class Rule:
    """One check of an intake: a name, what it checks, and the check itself."""

    name: str
    description: str
    check: Callable[[Any], Stop | None]


@dataclass(frozen=True)
class Run:
    """How a case went through a chain: the rules it passed, and the one that stopped it, if any."""

    passed: tuple[str, ...]
    stopped_by: str | None = None
    stop: Stop | None = None


def run(rules: Sequence[Rule], case: Any) -> Run:
    """Apply `rules` in order until one stops the case."""
    passed: list[str] = []
    for rule in rules:
        stop = rule.check(case)
        if stop is not None:
            return Run(tuple(passed), rule.name, stop)
        passed.append(rule.name)
    return Run(tuple(passed))


def describe(rules: Sequence[Rule]) -> list[tuple[str, str]]:
    """The chain as a reader sees it: each rule's name and description, in order."""
    return [(r.name, r.description) for r in rules]
