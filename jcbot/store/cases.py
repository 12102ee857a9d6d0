"""The project cycle's tables: cases, their events, their documents, the proposal items that carry them, registries.

A case's truth is its ordered events (`case_event`), replayed through
`jcbot.core.cycle.evaluate`; `case.state`, `case.number` and `case.numbers` are a cache
written with each event, for listing and for the public record.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from jcbot.store.db import JSONText, UTCDateTime


def _instant(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class Case(SQLModel, table=True):
    """One methodology, project, issuance or TPE moving through the cycle of one committee."""

    __tablename__ = "case"
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    ref: str = Field(max_length=32, unique=True)  # MN-C-2026-001: the public reference, stable from submission
    kind: str = Field(max_length=16)  # methodology, project, issuance, tpe
    title: str = Field(max_length=500)
    proponent: str = Field(max_length=320)  # the email address notices about the case go to
    created_at: datetime = Field(sa_column=_instant())
    created_by: str = Field(max_length=200)
    # What the core needs to start the case (CaseStart): a methodology's PM sequence; an
    # issuance's project case and request (amount, shares).
    seq: int | None = None
    project_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    request: dict | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))
    # Cache of the core's view after the last event (the events are the truth).
    state: str = Field(max_length=32, index=True)
    number: str | None = Field(default=None, max_length=32)
    numbers: list = Field(default_factory=list, sa_column=Column(JSONText(), nullable=False))


class CaseEvent(SQLModel, table=True):
    """One event of a case, in the order recorded (the core's typed event, as data)."""

    __tablename__ = "case_event"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    at: datetime = Field(sa_column=_instant())
    kind: str = Field(max_length=32)  # the core's event name: check, resubmitted, decision_adopted...
    data: dict = Field(sa_column=Column(JSONText(), nullable=False))
    actor: str = Field(max_length=200)
    documents: list | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))  # SHA-256s it brought
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CaseDocument(SQLModel, table=True):
    """A document a case holds (the document store's row), in the order it came."""

    __tablename__ = "case_document"
    __table_args__ = (UniqueConstraint("case_id", "document_id", name="uq_case_document_case_document"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    event_id: int | None = Field(default=None, foreign_key="case_event.id")
    name: str = Field(max_length=255)
    added_at: datetime = Field(sa_column=_instant())


class CaseItem(SQLModel, table=True):
    """The item of a JC proposal that carries a case, by position (kept across revisions that keep the items)."""

    __tablename__ = "case_item"
    __table_args__ = (UniqueConstraint("proposal_id", "position", name="uq_case_item_proposal_position"),)
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    position: int
    outcome: str = Field(max_length=32)  # approve, approve_with_revisions, reject: what adopting the item decides


class Registry(SQLModel, table=True):
    """A government's registry for a committee: where issuance notifications go."""

    __tablename__ = "registry"
    __table_args__ = (UniqueConstraint("committee_id", "government", name="uq_registry_committee_government"),)
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    government: str = Field(max_length=8)  # japan, host
    email: str = Field(max_length=320)
    url: str | None = Field(default=None, max_length=500)
    updated_at: datetime = Field(sa_column=_instant())
