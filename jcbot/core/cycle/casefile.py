"""`jcbot cycle simulate` case files: plain data -> CaseStart and typed events -> CaseView.

Format: SIMULATE.md, "`jcbot cycle simulate`" (case, submitted_at, events, evaluate_at).
Readings of ours, documented in docs/cycle.md: `case.committee_code` defaults to the
rules' `committee.code`; a `kind: issuance` case is its project's timeline (from the
project's start) and must hold an `issuance_requested`; numbers count from 001.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jcbot.core.cycle.engine import CaseStart, CaseView, CycleRefused, evaluate
from jcbot.core.cycle.events import (
    OUTCOMES, Check, DecisionAdopted, Event, InputConfirmed, IssuanceRequested, PddPublished, ProposalDistributed,
    ProposalWithdrawn, RegistrationRequested, Resubmitted, ValidationReport,
)
from jcbot.core.cycle.table import KINDS, Kind
from jcbot.core.rules import Rules
from jcbot.core.timeline import TimelineError, parse_instant

_TOP = {"case", "submitted_at", "events", "evaluate_at"}
_CODE = re.compile(r"^[A-Z]{2,4}$")
# Events whose only value is `true`: the fact happened.
_FLAGS = {"resubmitted": Resubmitted, "pdd_published": PddPublished, "validation_report": ValidationReport,
          "registration_requested": RegistrationRequested}
_NAMES = ("check", "input_confirmed", "proposal_distributed", "proposal_withdrawn", "decision_adopted",
          "issuance_requested", *_FLAGS)


class CaseFileError(ValueError):
    """An invalid case file: one line naming the event or field at fault."""


@dataclass(frozen=True)
class Simulation:
    """A replayed case file: how the case began, its events, and its view at `view.evaluated_at`."""

    start: CaseStart
    events: tuple[Event, ...]
    view: CaseView


def _instant(value: Any, where: str) -> datetime:
    try:
        return parse_instant(value, where)
    except TimelineError as exc:
        raise CaseFileError(str(exc)) from None


def _mapping(value: Any, where: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(value, dict):
        raise CaseFileError(f"{where or 'case file'}: expected a mapping, got {value!r}")
    prefix = f"{where}." if where else ""  # the file's top level: keys name themselves
    for key in value:
        if key not in allowed:
            raise CaseFileError(f"{prefix}{key}: unknown key (expected one of: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(value)):
        raise CaseFileError(f"{prefix}{key}: required key is missing")
    return value


def _text(value: Any, where: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise CaseFileError(f"{where}: expected {what} (printable text on one line), got {value!r}")
    return value


def _whole(value: Any, where: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise CaseFileError(f"{where}: expected a whole number >= {least}, got {value!r}")
    return value


def _event(e: Any, i: int) -> Event:
    where = f"events[{i}]"
    if not isinstance(e, dict):
        raise CaseFileError(f"{where}: expected a mapping, got {e!r}")
    names = [k for k in _NAMES if k in e]
    if len(names) != 1:
        raise CaseFileError(f"{where}: expected exactly one of {', '.join(_NAMES)}")
    name = names[0]
    _mapping(e, where, {"at", name, "reason"} if name == "check" else {"at", name}, {"at"})
    at, value, here = _instant(e["at"], f"{where}.at"), e[name], f"{where}.{name}"
    if name == "check":
        if value not in ("complete", "incomplete"):
            raise CaseFileError(f"{here}: expected 'complete' or 'incomplete', got {value!r}")
        if "reason" in e and value == "complete":
            raise CaseFileError(f"{where}.reason: only an incomplete check has a reason")
        reason = _text(e["reason"], f"{where}.reason", "the reason") if "reason" in e else None
        return Check(at, value == "complete", reason)
    if name in _FLAGS:
        if value is not True:
            raise CaseFileError(f"{here}: expected true, got {value!r}")
        return _FLAGS[name](at)
    if name in ("proposal_distributed", "proposal_withdrawn"):
        ref = _text(value, here, "a proposal reference")
        return ProposalDistributed(at, ref) if name == "proposal_distributed" else ProposalWithdrawn(at, ref)
    if name == "input_confirmed":
        return InputConfirmed(at, _text(_mapping(value, here, {"id"}, {"id"})["id"], f"{here}.id", "an input id"))
    if name == "decision_adopted":
        outcome = _mapping(value, here, {"outcome"}, {"outcome"})["outcome"]
        if outcome not in OUTCOMES:
            raise CaseFileError(f"{here}.outcome: expected one of {', '.join(OUTCOMES)}, got {outcome!r}")
        return DecisionAdopted(at, outcome, seq=1)  # a simulation counts numbers from 001
    body = _mapping(value, here, {"amount", "shares"}, {"amount", "shares"})
    shares = body["shares"]
    if not isinstance(shares, dict) or not shares:
        raise CaseFileError(f"{here}.shares: expected a mapping of government: tonnes, got {shares!r}")
    # Whole numbers here; which governments and whether they add up is the core's guard.
    return IssuanceRequested(at, _whole(body["amount"], f"{here}.amount", 1),
                             {str(g): _whole(n, f"{here}.shares.{g}", 0) for g, n in shares.items()})


def parse(data: Any, rules: Rules) -> tuple[CaseStart, list[Event], datetime | None]:
    """Read a case file's plain data (from YAML or JSON) into its start, events and evaluate_at."""
    data = _mapping(data, "", _TOP, {"case", "submitted_at"})
    case = _mapping(data["case"], "case", {"kind", "committee_code"}, {"kind"})
    kind: Kind = case["kind"]
    if kind not in KINDS:
        raise CaseFileError(f"case.kind: expected one of {', '.join(KINDS)}, got {kind!r}")
    code = case.get("committee_code", rules.committee.code)
    if not isinstance(code, str) or not _CODE.match(code):
        raise CaseFileError(f"case.committee_code: expected 2 to 4 capital letters, got {code!r}")
    events = data.get("events") or []
    if not isinstance(events, list):
        raise CaseFileError("events: expected a list")
    parsed = [_event(e, i) for i, e in enumerate(events)]
    if kind == "issuance" and not any(isinstance(e, IssuanceRequested) for e in parsed):
        raise CaseFileError("case.kind: an issuance is simulated as its project's timeline: add its issuance_requested")
    # An issuance case of the simulator is its project's timeline continued (SIMULATE.md).
    start = CaseStart("project" if kind == "issuance" else kind, code, _instant(data["submitted_at"], "submitted_at"), seq=1)
    at = _instant(data["evaluate_at"], "evaluate_at") if data.get("evaluate_at") is not None else None
    return start, parsed, at


def simulate(data: Any, rules: Rules) -> Simulation:
    """Replay a case file under `rules`; every event is checked, the view is at evaluate_at.

    evaluate_at defaults to after every event and the end of every window opened.
    """
    start, events, at = parse(data, rules)
    last = max([start.at, *(e.at for e in events)])
    full = _evaluate(start, events, rules, last)  # every event checked, even those after evaluate_at
    if at is None:
        at = max([last, *(w.end for w in full.windows.values())])
    elif at < start.at:
        raise CaseFileError(f"evaluate_at: {at.isoformat()} is before submitted_at")
    return Simulation(start, tuple(events), _evaluate(start, events, rules, at))


def _evaluate(start: CaseStart, events: list[Event], rules: Rules, at: datetime) -> CaseView:
    try:
        return evaluate(start, events, rules, at)
    except CycleRefused as exc:
        where = "submitted_at" if exc.index is None else f"events[{exc.index}].{exc.event}"
        raise CaseFileError(f"{where}: {exc}") from None
