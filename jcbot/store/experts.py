"""Experts the JC appoints to a proposal (alone or as a panel), and the comments they send.

An expert reads the proposal's documents, confidential versions included, and may
comment to the co-chairs; an expert is not a member and never asserts (PROJECT_CYCLE,
"Cases and documents").
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from jcbot.store.db import UTCDateTime


class ExpertAppointment(SQLModel, table=True):
    """One expert appointed to one proposal (every version of it), until revoked."""

    __tablename__ = "expert_appointment"
    __table_args__ = (UniqueConstraint("proposal_id", "email"),)
    id: int | None = Field(default=None, primary_key=True)
    committee_id: int = Field(foreign_key="committee.id", index=True)
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    panel: str | None = Field(default=None, max_length=200)  # "Methodologies Panel"; None: appointed alone
    appointed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    appointed_by: str = Field(max_length=200)
    revoked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class ExpertComment(SQLModel, table=True):
    """A comment an expert sent on one version of the proposal they were appointed to."""

    __tablename__ = "expert_comment"
    id: int | None = Field(default=None, primary_key=True)
    appointment_id: int = Field(foreign_key="expert_appointment.id", index=True)
    version: int
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
