"""The project cycle as data: each case kind's states and transitions (PROJECT_CYCLE.md).

One row is one arrow of the diagram: in state `source`, `trigger` leads to `target`
and may give the case a number. Triggers are the event names of SIMULATE.md, with a
check's or a decision's outcome spelled out ("check complete", "decision reject"), plus
"window closes": time alone moving a case on when its public-input window ends. What an
event needs beyond the state (a reason, an open proposal, shares adding up) are the named
guards of `jcbot.core.cycle.engine`; this table is all the engine knows of the flow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["methodology", "project", "issuance", "tpe"]
KINDS: tuple[Kind, ...] = ("methodology", "project", "issuance", "tpe")
Series = Literal["PM", "AM", "PIN", "project"]
START = "[*]"  # where a case is before it begins (Mermaid's start marker)
WINDOW_CLOSES = "window closes"
# A public input may arrive in any state (it comes from the public page, not from the
# case's people); whether it counts is the window's business, not the state's.
ANY_STATE = ("input_confirmed",)


@dataclass(frozen=True)
class Transition:
    """One arrow: in `source`, `trigger` leads to `target`, giving a number of `gives`."""

    kind: Kind
    source: str
    trigger: str
    target: str
    gives: Series | None = None


_ROWS: tuple[tuple[str, str, str, str, Series | None], ...] = (
    # kind          source                    trigger                             target                   number
    # Methodology (PROJECT_CYCLE.md, Methodology 1-5)
    ("methodology", START,                    "submitted",                        "submitted",             "PM"),
    ("methodology", "submitted",              "check complete",                   "public_inputs",         None),
    ("methodology", "submitted",              "check incomplete",                 "returned",              None),
    ("methodology", "returned",               "resubmitted",                      "submitted",             None),
    ("methodology", "public_inputs",          WINDOW_CLOSES,                      "awaiting_decision",     None),
    ("methodology", "awaiting_decision",      "proposal_distributed",             "awaiting_decision",     None),
    ("methodology", "awaiting_decision",      "proposal_withdrawn",               "awaiting_decision",     None),
    ("methodology", "awaiting_decision",      "decision approve",                 "approved",              "AM"),
    ("methodology", "awaiting_decision",      "decision approve_with_revisions",  "approved",              "AM"),
    ("methodology", "awaiting_decision",      "decision reject",                  "rejected",              None),
    # Project (PROJECT_CYCLE.md, Project 1-5). The PIN is optional: a project whose PDD
    # comes first leaves `pin` at once. The PIN's "no objection" keeps it in `pin`.
    ("project",     START,                    "submitted",                        "pin",                   None),
    ("project",     "pin",                    "proposal_distributed",             "pin",                   None),
    ("project",     "pin",                    "proposal_withdrawn",               "pin",                   None),
    ("project",     "pin",                    "decision approve",                 "pin",                   "PIN"),
    ("project",     "pin",                    "decision reject",                  "rejected",              None),
    ("project",     "pin",                    "pdd_published",                    "pdd_published",         None),
    ("project",     "pdd_published",          WINDOW_CLOSES,                      "validation",            None),
    ("project",     "validation",             "validation_report",                "validation",            None),
    ("project",     "validation",             "registration_requested",           "registration_requested", None),
    ("project",     "registration_requested", "check complete",                   "awaiting_decision",     None),
    ("project",     "registration_requested", "check incomplete",                 "returned",              None),
    ("project",     "returned",               "resubmitted",                      "registration_requested", None),
    ("project",     "awaiting_decision",      "proposal_distributed",             "awaiting_decision",     None),
    ("project",     "awaiting_decision",      "proposal_withdrawn",               "awaiting_decision",     None),
    ("project",     "awaiting_decision",      "decision approve",                 "registered",            "project"),
    ("project",     "awaiting_decision",      "decision reject",                  "rejected",              None),
    # Issuance (PROJECT_CYCLE.md, Issuance 1-2): a case of its own, started by an
    # issuance request on a `registered` project (ISSUANCE_NEEDS).
    ("issuance",    START,                    "issuance_requested",               "issuance_requested",    None),
    ("issuance",    "issuance_requested",     "check complete",                   "awaiting_decision",     None),
    ("issuance",    "issuance_requested",     "check incomplete",                 "returned",              None),
    ("issuance",    "returned",               "resubmitted",                      "issuance_requested",    None),
    ("issuance",    "awaiting_decision",      "proposal_distributed",             "awaiting_decision",     None),
    ("issuance",    "awaiting_decision",      "proposal_withdrawn",               "awaiting_decision",     None),
    ("issuance",    "awaiting_decision",      "decision approve",                 "notified",              None),
    ("issuance",    "awaiting_decision",      "decision reject",                  "rejected",              None),
    # TPE (PROJECT_CYCLE.md, TPE): no completeness check; the proposal naming it makes it
    # await the JC's decision.
    ("tpe",         START,                    "applied",                          "applied",               None),
    ("tpe",         "applied",                "proposal_distributed",             "awaiting_decision",     None),
    ("tpe",         "awaiting_decision",      "proposal_distributed",             "awaiting_decision",     None),
    ("tpe",         "awaiting_decision",      "proposal_withdrawn",               "awaiting_decision",     None),
    ("tpe",         "awaiting_decision",      "decision approve",                 "designated",            None),
    ("tpe",         "awaiting_decision",      "decision reject",                  "rejected",              None),
)
TRANSITIONS: tuple[Transition, ...] = tuple(Transition(*row) for row in _ROWS)  # type: ignore[arg-type]

# The window a state opens when a case enters it: (window name, key of the rules' `cycle:`).
WINDOWS: dict[tuple[Kind, str], tuple[str, str]] = {
    ("methodology", "submitted"): ("completeness_check", "completeness_check_days"),
    ("methodology", "public_inputs"): ("public_inputs", "methodology_public_input_days"),
    ("project", "pdd_published"): ("public_inputs", "pdd_public_input_days"),
    ("project", "registration_requested"): ("completeness_check", "completeness_check_days"),
    ("issuance", "issuance_requested"): ("completeness_check", "completeness_check_days"),
}
ISSUANCE_NEEDS = "registered"  # the project state an issuance request requires

_BY_KEY = {(t.kind, t.source, t.trigger): t for t in TRANSITIONS}


def transition(kind: Kind, state: str, trigger: str) -> Transition | None:
    """The row for `trigger` in `state` of `kind`, or None when the state does not allow it."""
    return _BY_KEY.get((kind, state, trigger))


def allowed(kind: Kind, state: str, trigger: str) -> bool:
    """Whether a case of `kind` in `state` takes `trigger` (guards aside)."""
    return trigger in ANY_STATE and state != START or (kind, state, trigger) in _BY_KEY


def triggers(kind: Kind, state: str) -> tuple[str, ...]:
    """The triggers `state` allows, in table order (for errors that say what would do)."""
    return tuple(t.trigger for t in TRANSITIONS if t.kind == kind and t.source == state)


def states(kind: Kind) -> tuple[str, ...]:
    """Every state of `kind`, in the order the table first reaches them."""
    seen: dict[str, None] = {}
    for t in TRANSITIONS:
        if t.kind == kind:
            seen.setdefault(t.target)
    return tuple(seen)


def first(kind: Kind) -> Transition:
    """The row that starts a case of `kind`."""
    return next(t for t in TRANSITIONS if t.kind == kind and t.source == START)


def final(kind: Kind, state: str) -> bool:
    """A state no trigger leaves (approved, rejected, registered, notified, designated)."""
    return not triggers(kind, state)


def pending_check(kind: Kind, state: str) -> bool:
    """A state that waits for the secretariat's completeness check."""
    return transition(kind, state, "check complete") is not None


def mermaid(kind: Kind) -> str:
    """The workflow of `kind` as a Mermaid state diagram, drawn from the table."""
    lines = ["stateDiagram-v2"]
    for t in TRANSITIONS:
        if t.kind == kind:
            gives = f" ({t.gives} number)" if t.gives else ""
            lines.append(f"    {t.source} --> {t.target} : {t.trigger}{gives}")
    lines += [f"    {s} --> {START}" for s in states(kind) if final(kind, s)]
    return "\n".join(lines)
