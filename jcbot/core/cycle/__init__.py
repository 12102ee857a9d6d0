"""The JCM project cycle (PROJECT_CYCLE.md), pure: case kinds, states, windows, numbers, duties.

- `table`: the transitions of each kind as data (`TRANSITIONS`, `allowed`, `mermaid`);
- `events`: the typed events of a case;
- `engine`: `evaluate(start, events, rules, at) -> CaseView`, the one place the cycle judges;
- `casefile`: a `jcbot cycle simulate` case file (SIMULATE.md) -> events -> view.
"""
from __future__ import annotations

from jcbot.core.cycle.engine import (
    CHECK_OVERDUE, GUARDS, CaseStart, CaseView, CycleRefused, Window, evaluate, number, number_due, open_window, summary,
)
from jcbot.core.cycle.events import (
    EVENT_TYPES, OUTCOMES, Check, DecisionAdopted, Event, InputConfirmed, IssuanceRequested, Outcome, PddPublished,
    ProposalDistributed, ProposalWithdrawn, RegistrationRequested, Resubmitted, ValidationReport,
)
from jcbot.core.cycle.table import (
    ANY_STATE, ISSUANCE_NEEDS, KINDS, START, TRANSITIONS, WINDOW_CLOSES, WINDOWS, Kind, Series, Transition, allowed,
    final, first, mermaid, pending_check, states, transition, triggers,
)

__all__ = [
    "ANY_STATE", "CHECK_OVERDUE", "EVENT_TYPES", "GUARDS", "ISSUANCE_NEEDS", "KINDS", "OUTCOMES", "START",
    "TRANSITIONS", "WINDOWS", "WINDOW_CLOSES", "CaseStart", "CaseView", "Check", "CycleRefused", "DecisionAdopted",
    "Event", "InputConfirmed", "IssuanceRequested", "Kind", "Outcome", "PddPublished", "ProposalDistributed",
    "ProposalWithdrawn", "RegistrationRequested", "Resubmitted", "Series", "Transition", "ValidationReport", "Window",
    "allowed", "evaluate", "final", "first", "mermaid", "number", "number_due", "open_window", "pending_check",
    "states", "summary", "transition", "triggers",
]
