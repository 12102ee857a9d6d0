"""What the rules of one intake look at: the input, and the records it names, read once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import select

from jcbot.core.decision import Admission
from jcbot.services.context import ServiceError, Tx
from jcbot.services.evaluation import Facts, gather
from jcbot.services.intake.chain import Stop
from jcbot.services.notices import proposal_data
from jcbot.store.models import AssertionRecord, Committee, Member, Proposal, ProposalVersion


@dataclass
class Case:
    """One assertion on its way in: what was said, by whom, about what; filled in by the rules."""

    tx: Tx
    channel: str
    evidence_key: str
    position: str | None = None
    opinion: str | None = None
    at: datetime | None = None        # when it was made, if not now (a letter's date, the mail server's receipt)
    note: str | None = None
    ref: str | None = None            # the proposal, by reference (CLI, Slack) ...
    proposal_id: int | None = None    # ... or by id (an email reply's token)
    version_no: int | None = None     # the version answered; None: the current one
    handle: str | None = None         # the member, once known
    member_id: int | None = None
    # Resolved by the rules, in this order.
    committee: Committee | None = None
    proposal: Proposal | None = None
    version: ProposalVersion | None = None
    current: ProposalVersion | None = None
    member: Member | None = None
    facts: Facts | None = None
    admission: Admission | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # what one channel's rules need (a token, a reading)

    @property
    def when(self) -> datetime:
        """The instant of the assertion: its own date, else now (read after the proposal's lock)."""
        return self.at or self.tx.now

    def lock_proposal(self) -> bool:
        """Find and lock the proposal named by ref or id, then re-read the instant; False if unknown."""
        s = self.tx.session
        q = select(Proposal).where(Proposal.ref == self.ref) if self.ref is not None else \
            select(Proposal).where(Proposal.id == self.proposal_id)
        p = s.exec(q.with_for_update()).first()
        if p is None:
            return False
        self.tx.after_lock()
        self.proposal, self.ref = p, p.ref
        self.committee = s.get(Committee, p.committee_id)
        versions = {v.version: v for v in s.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id))}
        self.current = versions[p.current_version]
        self.version = versions.get(self.version_no if self.version_no is not None else p.current_version)
        return True

    def load_member(self) -> bool:
        """The member named by handle or id, in the proposal's committee; False if none."""
        s = self.tx.session
        assert self.committee is not None
        q = select(Member).where(Member.committee_id == self.committee.id)
        q = q.where(Member.handle == self.handle) if self.handle is not None else q.where(Member.id == self.member_id)
        self.member = s.exec(q).first()
        if self.member is not None:
            self.handle, self.member_id = self.member.handle, self.member.id
        return self.member is not None

    def seen(self) -> int | None:
        """The assertion already recorded from this very evidence on this version, if any."""
        assert self.version is not None
        return self.tx.session.exec(select(AssertionRecord.id).where(
            AssertionRecord.version_id == self.version.id, AssertionRecord.evidence_key == self.evidence_key)).first()

    def gather(self) -> Facts:
        """The facts of the version answered (read once per intake)."""
        if self.facts is None:
            assert self.committee and self.proposal and self.version
            self.facts = gather(self.tx.session, self.committee, self.proposal, self.version)
        return self.facts

    def shown(self) -> dict[str, Any]:
        """The proposal as a refusal may show it: the current version once distributed, else the one answered."""
        if self.proposal is None or self.committee is None:
            return {}
        v = self.current if self.current is not None and self.current.distributed_at is not None else self.version
        if v is None or v.distributed_at is None:
            return {}
        if v is self.version:
            return proposal_data(self.gather())
        return proposal_data(gather(self.tx.session, self.committee, self.proposal, v))

    def refuse(self, why: str, error: Exception | None = None) -> Stop:
        """A refusal stop, carrying what a refusal message may show."""
        return Stop("refused", why, error=error or ServiceError(why), data=self.shown())
