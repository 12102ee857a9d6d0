"""What the rules of one intake look at: the input, and the records it names, read once."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import select

from jcbot.core.decision import Admission
from jcbot.services.context import ServiceError, Tx
from jcbot.services.evaluation import Facts, facts_of, gather
from jcbot.services.intake.chain import Stop
from jcbot.services.notices import proposal_data
from jcbot.services.roster_log import load_roster
from jcbot.store.models import AssertionRecord, Committee, Member, Proposal, ProposalItem, ProposalVersion


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
    _records: list[AssertionRecord] = field(default_factory=list, repr=False)

    @property
    def when(self) -> datetime:
        """The instant of the assertion: its own date, else now (read after the proposal's lock)."""
        return self.at or self.tx.now

    def lock_proposal(self) -> bool:
        """Find and lock the proposal named by ref or id, then re-read the instant; False if unknown."""
        s = self.tx.session
        q = select(Proposal, Committee).join(Committee, Committee.id == Proposal.committee_id)
        q = q.where(Proposal.ref == self.ref) if self.ref is not None else q.where(Proposal.id == self.proposal_id)
        found = s.exec(q.with_for_update(of=Proposal)).first()  # type: ignore[arg-type]
        if found is None:
            return False
        self.tx.after_lock()
        p, self.committee = found
        self.proposal, self.ref = p, p.ref
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
        if self.version.distributed_at is None:  # no facts to gather; nothing can have been recorded
            return None
        self.gather()  # the version's assertions are read once, for this and for the verdict
        return next((r.id for r in self._records if r.evidence_key == self.evidence_key), None)

    def gather(self) -> Facts:
        """The facts of the version answered (read once per intake)."""
        if self.facts is None:
            assert self.committee and self.proposal and self.version
            s, v = self.tx.session, self.version
            self._records = list(s.exec(select(AssertionRecord).where(AssertionRecord.version_id == v.id)
                                        .order_by(AssertionRecord.at, AssertionRecord.id)))  # type: ignore[arg-type]
            items = tuple({"kind": i.kind, "title": i.title, "reference": i.reference} for i in s.exec(
                select(ProposalItem).where(ProposalItem.version_id == v.id).order_by(ProposalItem.position)))
            self.facts = facts_of(self.committee, self.proposal, v, load_roster(s, self.committee), self._records, items)
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
