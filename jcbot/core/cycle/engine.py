"""The project cycle's engine: a case's events, replayed in time order, give its view at an instant.

`evaluate` is the only place the cycle's judgements are made: which state the case is
in, which windows opened and when they end (PROCEDURE 2's calendar: day 0 is the local
date of the start, the window ends at the first instant of day N+1, `start <= at < end`),
which public inputs count, which numbers were given, which duties are overdue. Time is
passed in; nothing here reads a clock or stores anything.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from jcbot.core.calendar import local_date, start_of_day, utc
from jcbot.core.cycle.events import (
    Check, DecisionAdopted, Event, InputConfirmed, IssuanceRequested, ProposalDistributed, ProposalWithdrawn,
    ValidationReport,
)
from jcbot.core.cycle.table import (
    ISSUANCE_NEEDS, START, WINDOW_CLOSES, WINDOWS, Kind, Series, final, first, pending_check, transition, triggers,
)
from jcbot.core.errors import ProcedureError
from jcbot.core.roster import GOVERNMENTS
from jcbot.core.rules import Cycle, Rules
from jcbot.core.trace import Step, describe_at

CHECK_OVERDUE = "completeness_check overdue"


class CycleRefused(ProcedureError):
    """An event the case's state or facts refuse; `index` is its place in the list given."""

    def __init__(self, message: str, index: int | None = None, event: str | None = None):
        super().__init__(message)
        self.index, self.event = index, event


@dataclass(frozen=True)
class CaseStart:
    """How a case began: kind, committee code, instant, and what its kind needs to start."""

    kind: Kind
    committee_code: str
    at: datetime
    seq: int | None = None                      # a methodology's XX_PM### sequence, from the caller's counter
    request: IssuanceRequested | None = None     # an issuance case: the request that opened it
    project_number: str | None = None           # an issuance case: its registered project's XX###


@dataclass(frozen=True)
class Window:
    """A period of calendar days: something is within it when `start <= at < end`."""

    name: str
    start: datetime
    end: datetime
    days: int

    def contains(self, at: datetime) -> bool:
        """Whether `at` falls within the window."""
        return self.start <= utc(at) < self.end


@dataclass(frozen=True)
class CaseView:
    """Where a case stands at `evaluated_at`, and why (`trace`)."""

    kind: Kind                        # the kind shown: "issuance" once a project's issuance began
    state: str
    number: str | None                # the latest number given (PM, AM, PIN, project), or None
    numbers: tuple[str, ...]          # every number given, in order
    windows: dict[str, Window]        # the latest window of each name
    inputs_counted: tuple[str, ...]   # ids of public inputs confirmed within the window
    inputs_refused: tuple[str, ...]   # ids of those confirmed outside it
    duties: tuple[str, ...]           # overdue duties, e.g. "completeness_check overdue"
    proposal: str | None              # the open JC proposal carrying the case
    project_state: str | None         # a project's state while its issuance is shown
    request: IssuanceRequested | None  # the issuance request shown
    next_change: datetime | None      # when time alone changes this view (a window's end)
    evaluated_at: datetime
    trace: tuple[Step, ...] = field(default=())


def open_window(name: str, start: datetime, days: int, tz: ZoneInfo) -> Window:
    """The window of `days` calendar days from `start` in `tz` (PROCEDURE 2)."""
    end = start_of_day(local_date(start, tz) + timedelta(days=days + 1), tz)
    return Window(name, utc(start), end, days)


def number(code: str, series: Series, seq: int) -> str:
    """A case number: XX_PM###, XX_AM###, XX_PIN### or the project's XX###."""
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"a number's sequence is a whole number >= 1, got {seq!r}")
    return f"{code}{'' if series == 'project' else '_' + series}{seq:03d}"


# ---- guards: what an event needs beyond the state (each returns why it refuses, or None)

def _reason_given(run: _Run, ev: Check) -> str | None:
    if not ev.complete and not (ev.reason or "").strip():
        return "an incomplete check needs its reason (it is sent to the proponent)"
    return None


def _proposal_open(run: _Run, ev: DecisionAdopted) -> str | None:
    # PROJECT_CYCLE: a case moves on an adopted item of a proposal (electronic or at a meeting).
    return None if run.proposal else "no proposal carries the case: distribute one first"


def _names_open_proposal(run: _Run, ev: ProposalWithdrawn) -> str | None:
    if run.proposal != ev.ref:
        return f"{ev.ref} is not the case's open proposal ({run.proposal or 'there is none'})"
    return None


def _pin_undecided(run: _Run, ev: ProposalDistributed) -> str | None:
    return "the PIN was already decided" if run.kind == "project" and run.state == "pin" and run.pin_decided else None


def _no_pin_proposal_open(run: _Run, ev: Event) -> str | None:
    # SIMULATE: a PIN decision is distributed and adopted before the PDD is published.
    return f"the PIN proposal {run.proposal} is still open" if run.proposal else None


def _validation_recorded(run: _Run, ev: Event) -> str | None:
    return None if run.validation_report else "no validation report recorded (validation_report first)"


def _shares_add_up(run: _Run | None, ev: IssuanceRequested) -> str | None:
    if isinstance(ev.amount, bool) or not isinstance(ev.amount, int) or ev.amount < 1:
        return f"amount: expected whole tonnes CO2e >= 1, got {ev.amount!r}"
    for gov, share in ev.shares.items():
        if gov not in GOVERNMENTS:
            return f"shares.{gov}: expected a government ({', '.join(GOVERNMENTS)})"
        if isinstance(share, bool) or not isinstance(share, int) or share < 0:
            return f"shares.{gov}: expected a whole number >= 0, got {share!r}"
    total = sum(ev.shares.values())
    return None if total == ev.amount else f"shares add up to {total}, not the amount {ev.amount}"


GUARDS: dict[str, tuple[Callable[..., str | None], ...]] = {
    "check": (_reason_given,),
    "decision_adopted": (_proposal_open,),
    "proposal_withdrawn": (_names_open_proposal,),
    "proposal_distributed": (_pin_undecided,),
    "pdd_published": (_no_pin_proposal_open,),
    "registration_requested": (_validation_recorded,),
    "issuance_requested": (_shares_add_up,),
}


class _Refusal(Exception):
    pass


class _Run:
    """One case's replay in progress (private to `evaluate`)."""

    def __init__(self, kind: Kind, code: str, cycle: Cycle, tz: ZoneInfo, trace: list[Step]):
        self.kind, self.code, self.cycle, self.tz, self.trace = kind, code, cycle, tz, trace
        self.state = START
        self.windows: dict[str, Window] = {}
        self.numbers: list[str] = []
        self.proposal: str | None = None
        self.validation_report = self.pin_decided = False
        self.request: IssuanceRequested | None = None

    def fire(self, trigger: str, at: datetime, seq: int | None = None, note: str = "") -> None:
        row = transition(self.kind, self.state, trigger)
        assert row is not None, (self.kind, self.state, trigger)
        text = f"{trigger}{note} -> {row.target}"
        if row.gives:
            if seq is None:
                raise ValueError(f"{trigger} gives a {row.gives} number: the event needs its seq")
            self.numbers.append(number(self.code, row.gives, seq))
            text += f", number {self.numbers[-1]}"
        if row.target != self.state and (self.kind, row.target) in WINDOWS:
            name, key = WINDOWS[(self.kind, row.target)]
            w = self.windows[name] = open_window(name, at, getattr(self.cycle, key), self.tz)
            text += f", {name} until {describe_at(w.end, self.tz)} ({w.days} calendar days)"
        self.state = row.target
        self.trace.append(Step(at, trigger, text))

    def state_window(self) -> Window | None:
        name = WINDOWS.get((self.kind, self.state), (None,))[0]
        return self.windows.get(name) if name else None

    def tick(self, until: datetime) -> None:
        """Let time run to `until`: a state whose window has ended moves on at its end."""
        while transition(self.kind, self.state, WINDOW_CLOSES) and (w := self.state_window()) and w.end <= until:
            self.fire(WINDOW_CLOSES, w.end)

    def apply(self, ev: Event, at: datetime) -> None:
        if transition(self.kind, self.state, ev.trigger) is None:
            raise _Refusal(self.not_allowed(ev.trigger))
        for guard in GUARDS.get(ev.name, ()):
            if (why := guard(self, ev)) is not None:
                raise _Refusal(why)
        note = ""
        if isinstance(ev, ProposalDistributed):
            note = f" {ev.ref}" + (f" (supersedes {self.proposal})" if self.proposal else "")
            self.proposal = ev.ref
        elif isinstance(ev, ProposalWithdrawn):
            note, self.proposal = f" {ev.ref}", None
        elif isinstance(ev, DecisionAdopted):
            note, self.proposal = f" on {self.proposal}", None
            self.pin_decided = self.pin_decided or self.state == "pin"
        elif isinstance(ev, ValidationReport):
            self.validation_report = True
        elif isinstance(ev, Check):
            w = self.windows.get("completeness_check")
            parts = [ev.reason] if ev.reason else []
            if w is not None and at >= w.end:
                parts.append(f"late: its window ended at {describe_at(w.end, self.tz)}")
            note = f" ({'; '.join(parts)})" if parts else ""
        self.fire(ev.trigger, at, getattr(ev, "seq", None), note)

    def not_allowed(self, trigger: str) -> str:
        text = f"{trigger} is not allowed for a {self.kind} in state {self.state}"
        if transition(self.kind, self.state, WINDOW_CLOSES) and (w := self.state_window()):
            text += f" (its {w.name} window ends at {describe_at(w.end, self.tz)})"
        options = [t for t in triggers(self.kind, self.state) if t != WINDOW_CLOSES]
        return text + (f"; allowed there: {', '.join(options)}" if options else "")


class _Case:
    """A case's runs: the case itself and, for a project, its latest issuance."""

    def __init__(self, start: CaseStart, rules: Rules, trace: list[Step]):
        self.rules, self.trace = rules, trace
        self.main = self._begin(start.kind, start.at, start.seq, start.request, start.committee_code)
        if start.kind == "issuance" and start.project_number:
            self.main.numbers.insert(0, start.project_number)
        self.issuance: _Run | None = None
        self.counted: list[str] = []
        self.refused: list[str] = []

    def _begin(self, kind: Kind, at: datetime, seq: int | None, request: IssuanceRequested | None, code: str) -> _Run:
        run = _Run(kind, code, self.rules.cycle, self.rules.tz, self.trace)
        if kind == "issuance":
            if request is None:
                raise ValueError("an issuance case starts with its IssuanceRequested")
            if (why := _shares_add_up(None, request)) is not None:
                raise _Refusal(why)
            run.request = request
        run.fire(first(kind).trigger, utc(at), seq)
        return run

    @property
    def shown(self) -> _Run:
        return self.issuance or self.main

    def tick(self, until: datetime) -> None:
        self.main.tick(until)
        if self.issuance:
            self.issuance.tick(until)

    def apply(self, ev: Event, at: datetime) -> None:
        if isinstance(ev, InputConfirmed):
            return self._input(ev, at)
        if isinstance(ev, IssuanceRequested) and self.main.kind == "project":
            if self.main.state != ISSUANCE_NEEDS:
                raise _Refusal(f"an issuance is for a registered project; this one is in state {self.main.state}")
            if self.issuance and not final("issuance", self.issuance.state):
                raise _Refusal(f"the project's issuance is still in state {self.issuance.state}")
            self.issuance = self._begin("issuance", at, None, ev, self.main.code)
            return None
        self.shown.apply(ev, at)
        return None

    def _input(self, ev: InputConfirmed, at: datetime) -> None:
        if not ev.input_id or ev.input_id in self.counted or ev.input_id in self.refused:
            raise _Refusal(f"input {ev.input_id!r} was already confirmed" if ev.input_id else "an input needs its id")
        w = self.main.windows.get("public_inputs")
        if w is not None and w.contains(at):
            self.counted.append(ev.input_id)
            text = f"input {ev.input_id} counted (window until {describe_at(w.end, self.rules.tz)})"
        else:
            self.refused.append(ev.input_id)
            text = (f"input {ev.input_id} refused: no public-input window open" if w is None or at < w.start
                    else f"input {ev.input_id} refused: the window ended at {describe_at(w.end, self.rules.tz)}")
        self.trace.append(Step(at, "input_confirmed", text))

    def view(self, at: datetime) -> CaseView:
        run = self.shown
        windows = {**self.main.windows, **(self.issuance.windows if self.issuance else {})}
        numbers = tuple(self.main.numbers + (self.issuance.numbers if self.issuance else []))
        # Time alone changes the view at the end of the state's own window (it closes) and
        # at the end of a pending check's window (the duty becomes overdue).
        check = run.windows.get("completeness_check") if pending_check(run.kind, run.state) else None
        overdue = check is not None and at >= check.end
        own = run.state_window() if transition(run.kind, run.state, WINDOW_CLOSES) else None
        later = [w.end for w in (own, check) if w is not None and w.end > at]
        return CaseView(
            kind=run.kind, state=run.state, number=numbers[-1] if numbers else None, numbers=numbers,
            windows=windows, inputs_counted=tuple(self.counted), inputs_refused=tuple(self.refused),
            duties=(CHECK_OVERDUE,) if overdue else (), proposal=run.proposal,
            project_state=self.main.state if self.issuance else None, request=run.request,
            next_change=min(later, default=None), evaluated_at=at, trace=tuple(self.trace))


def evaluate(start: CaseStart, events: Sequence[Event], rules: Rules, at: datetime) -> CaseView:
    """The case at `at`: its events (up to `at`) applied in time order, equal instants in list order.

    Raises CycleRefused naming the event (its index in `events`) that the case refuses.
    """
    at, begin = utc(at, "at"), utc(start.at, "start")
    if at < begin:
        raise ValueError(f"at {at.isoformat()} is before the case began ({begin.isoformat()})")
    trace: list[Step] = []
    try:
        case = _Case(start, rules, trace)
    except _Refusal as exc:
        raise CycleRefused(str(exc), None, first(start.kind).trigger) from None
    for i in sorted(range(len(events)), key=lambda i: (utc(events[i].at, f"events[{i}].at"), i)):
        ev, t = events[i], utc(events[i].at)
        if t > at:
            break
        if t < begin:
            raise CycleRefused(f"{t.isoformat()} is before the case began ({begin.isoformat()})", i, ev.name)
        case.tick(t)  # a window ending at this very instant has ended: `at < end` is within it
        try:
            case.apply(ev, t)
        except _Refusal as exc:
            raise CycleRefused(str(exc), i, ev.name) from None
    case.tick(at)
    return case.view(at)


def number_due(view: CaseView, event: Event) -> Series | None:
    """Which number `event` would give the case as it stands (for the caller to allocate its seq)."""
    row = transition(view.kind, view.state, event.trigger)
    return row.gives if row else None


def summary(view: CaseView) -> dict:
    """The JSON object of SIMULATE.md (`jcbot cycle simulate --json`)."""
    return {
        "state": view.state,
        "number": view.number,
        "windows": {name: {"start": w.start.isoformat(), "end": w.end.isoformat()} for name, w in view.windows.items()},
        "inputs_counted": len(view.inputs_counted),
        "inputs_refused": len(view.inputs_refused),
        "duties": list(view.duties),
    }
