"""The typed events of a case (SIMULATE.md, `jcbot cycle simulate`), each with its instant.

`name` is the event's key in a case file; `trigger` is the row of the transition table
it fires (a check or a decision spells out its outcome).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, Union

Outcome = Literal["approve", "approve_with_revisions", "reject"]
OUTCOMES: tuple[Outcome, ...] = ("approve", "approve_with_revisions", "reject")


@dataclass(frozen=True)
class _Plain:
    """An event whose trigger is its name."""

    at: datetime
    name: ClassVar[str] = ""

    @property
    def trigger(self) -> str:
        return self.name


@dataclass(frozen=True)
class Check(_Plain):
    """The secretariat's completeness check; an incomplete one carries its reason."""

    complete: bool
    reason: str | None = None
    name: ClassVar[str] = "check"

    @property
    def trigger(self) -> str:
        return "check complete" if self.complete else "check incomplete"


@dataclass(frozen=True)
class Resubmitted(_Plain):
    """The proponent sends a returned case back: a new check starts."""

    name: ClassVar[str] = "resubmitted"


@dataclass(frozen=True)
class InputConfirmed(_Plain):
    """A public input whose address was confirmed at `at` (it counts within the window)."""

    input_id: str
    name: ClassVar[str] = "input_confirmed"


@dataclass(frozen=True)
class ProposalDistributed(_Plain):
    """A JC proposal carrying the case's item was distributed (it supersedes an open one)."""

    ref: str
    name: ClassVar[str] = "proposal_distributed"


@dataclass(frozen=True)
class ProposalWithdrawn(_Plain):
    """The open proposal was withdrawn (or objected, referred): the case keeps waiting."""

    ref: str
    name: ClassVar[str] = "proposal_withdrawn"


@dataclass(frozen=True)
class DecisionAdopted(_Plain):
    """The open proposal's item was adopted with `outcome`.

    `seq` is the sequence of the number the decision gives (AM, PIN, project), taken by
    the caller from its counter: `jcbot.core.cycle.number_due` says which one is due.
    """

    outcome: Outcome
    seq: int | None = None
    name: ClassVar[str] = "decision_adopted"

    @property
    def trigger(self) -> str:
        return f"decision {self.outcome}"


@dataclass(frozen=True)
class PddPublished(_Plain):
    """The PDD's public version is published: public inputs open."""

    name: ClassVar[str] = "pdd_published"


@dataclass(frozen=True)
class ValidationReport(_Plain):
    """The TPE's validation report is recorded."""

    name: ClassVar[str] = "validation_report"


@dataclass(frozen=True)
class RegistrationRequested(_Plain):
    """The registration request (with the validation report) is submitted."""

    name: ClassVar[str] = "registration_requested"


@dataclass(frozen=True)
class IssuanceRequested(_Plain):
    """An issuance request: `amount` tonnes CO2e shared among the governments' registries."""

    amount: int
    shares: Mapping[str, int]
    name: ClassVar[str] = "issuance_requested"


Event = Union[Check, Resubmitted, InputConfirmed, ProposalDistributed, ProposalWithdrawn, DecisionAdopted,
              PddPublished, ValidationReport, RegistrationRequested, IssuanceRequested]
EVENT_TYPES: dict[str, type] = {t.name: t for t in (
    Check, Resubmitted, InputConfirmed, ProposalDistributed, ProposalWithdrawn, DecisionAdopted,
    PddPublished, ValidationReport, RegistrationRequested, IssuanceRequested)}
