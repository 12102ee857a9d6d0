"""The domain tables: committees, members, roster changes, proposals, assertions, meetings.

Instants are UTC (UTCDateTime). The roster is stored as the ordered log of its changes
(`RosterChange`), replayed through `jcbot.core.roster.Roster` so that every invariant is
checked by the core and nowhere else; `Member` keeps contact details and a projection of
joined/left for listing.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Date, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from jcbot.store.db import JSONText, UTCDateTime


def _instant(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class Committee(SQLModel, table=True):
    """One Joint Committee, created from a rules file whose text is kept verbatim."""

    __tablename__ = "committee"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    host_country: str = Field(max_length=100)
    code: str = Field(max_length=8)
    timezone: str = Field(max_length=64)
    rules_source: str = Field(max_length=500)
    rules_yaml: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_instant())


class Member(SQLModel, table=True):
    """A person designated to a JC by one government, with how to reach them."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("committee_id", "handle", name="uq_member_committee_handle"),)
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    handle: str = Field(max_length=64)  # the id the roster and the CLI use, e.g. "tanaka"
    name: str = Field(max_length=200)
    government: str = Field(max_length=8)
    email: str | None = Field(default=None, max_length=320, index=True)
    slack_user_id: str | None = Field(default=None, max_length=32, index=True)
    timezone: str | None = Field(default=None, max_length=64)
    joined_at: datetime = Field(sa_column=_instant())
    left_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class RosterChange(SQLModel, table=True):
    """One change to a committee's roster, in the order it was recorded."""

    __tablename__ = "roster_change"
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    at: datetime = Field(sa_column=_instant())
    kind: str = Field(max_length=32)  # add_member, remove_member, elect_cochair, designate_alternate, revoke_alternate
    member: str = Field(max_length=64)  # handle
    government: str | None = Field(default=None, max_length=8)  # government, or the seat
    other: str | None = Field(default=None, max_length=64)  # the alternate's handle


class Secretariat(SQLModel, table=True):
    """Someone of the secretariat: prepares proposals, sees the dashboard, never asserts."""

    __tablename__ = "secretariat"
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int | None = Field(default=None, foreign_key="committee.id", index=True)
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320, index=True)
    slack_user_id: str | None = Field(default=None, max_length=32, index=True)


class Proposal(SQLModel, table=True):
    """A proposed decision; its text lives in versions, each distributed at most once."""

    __tablename__ = "proposal"
    __table_args__ = (UniqueConstraint("committee_id", "ref", name="uq_proposal_committee_ref"),)
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    ref: str = Field(max_length=32)  # e.g. MN-P-2026-003, stable from drafting on
    current_version: int = 1
    status: str = Field(default="draft", max_length=16, index=True)
    created_at: datetime = Field(sa_column=_instant())
    created_by: str = Field(max_length=200)


class ProposalVersion(SQLModel, table=True):
    """One version of a proposal and its distribution (frozen electorate and deadline)."""

    __tablename__ = "proposal_version"
    __table_args__ = (UniqueConstraint("proposal_id", "version", name="uq_proposal_version"),)
    id: int | None = Field(default=None, primary_key=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    version: int
    title: str = Field(max_length=500)
    text: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(sa_column=_instant())
    distributed_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    distributed_by: str | None = Field(default=None, max_length=200)
    deadline: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    electorate: list | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))
    status: str = Field(default="draft", max_length=16, index=True)
    basis: str | None = Field(default=None, max_length=16)
    adopted_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    lapsed_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    closed_as: str | None = Field(default=None, max_length=16)
    closed_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    closed_note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # When time alone can next change the verdict (the core's Verdict.next_change), written
    # whenever a version is settled: the sweep and the scheduler's alarm read it, so which
    # instants matter (a deadline today) is the core's to say, not the scheduler's.
    next_change_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True))


class ProposalItem(SQLModel, table=True):
    """One item a version bundles (methodology approval, project registration...)."""

    __tablename__ = "proposal_item"
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="proposal_version.id", index=True)
    position: int
    kind: str = Field(max_length=32)
    title: str = Field(max_length=500)
    reference: str | None = Field(default=None, max_length=64)  # MN_AM001, MN001...


class AssertionRecord(SQLModel, table=True):
    """One assertion as recorded, with its channel and evidence (kept forever)."""

    __tablename__ = "assertion"
    __table_args__ = (UniqueConstraint("version_id", "evidence_key", name="uq_assertion_evidence"),)
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="proposal_version.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    member: str = Field(max_length=64)  # handle, as the core knows them
    position: str = Field(max_length=16)
    opinion: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: datetime = Field(sa_column=_instant())
    channel: str = Field(max_length=16)  # email, slack, web, letter, cli
    evidence_key: str = Field(max_length=300)  # Message-ID, Slack action id... duplicates recorded once
    recorded_at: datetime = Field(sa_column=_instant())
    recorded_by: str = Field(max_length=200)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The SHA-256s (sorted) of the documents the version carried: what the member asserted on.
    # None for assertions recorded before proposals carried documents.
    documents: list | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))


class Meeting(SQLModel, table=True):
    """A meeting (or conference call) of the JC."""

    __tablename__ = "meeting"
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    title: str = Field(max_length=200)  # "3rd Joint Committee"
    held_on: date = Field(sa_column=Column(Date, nullable=False))
    place: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_instant())


class Decision(SQLModel, table=True):
    """An adopted decision, electronic or from a meeting: what the public record shows."""

    __tablename__ = "decision"
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    number: str = Field(max_length=32, unique=True)  # MN-2026-004
    title: str = Field(max_length=500)
    text: str = Field(sa_column=Column(Text, nullable=False))
    items: list = Field(sa_column=Column(JSONText(), nullable=False))
    basis: str = Field(max_length=16)  # no_objection, unanimous, meeting
    adopted_at: datetime = Field(sa_column=_instant())
    version_id: int | None = Field(default=None, foreign_key="proposal_version.id", unique=True)
    meeting_id: int | None = Field(default=None, foreign_key="meeting.id")
    tally: dict | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))
    audit_hash: str | None = Field(default=None, max_length=64)


class Counter(SQLModel, table=True):
    """Per-committee counters for public numbers (decisions per year, methodologies...)."""

    __tablename__ = "counter"
    committee_id: int = Field(foreign_key="committee.id", primary_key=True)
    name: str = Field(max_length=32, primary_key=True)
    value: int = 0
