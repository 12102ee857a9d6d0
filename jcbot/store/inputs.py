"""Public inputs on cases of the project cycle: what anyone sent through a case's public page.

An input is stored PENDING when the form is sent and counts only once its address is
confirmed within the case's public-input window; the core decides (an `InputConfirmed`
event of the case), and `counted` / `refused_reason` keep what it said. Being a row, a
pending input survives a restart between submission and confirmation.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from jcbot.store.db import UTCDateTime


class PublicInput(SQLModel, table=True):
    """One public input: who sent it, its text, its confirmation and the core's verdict on it."""

    __tablename__ = "public_input"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    name: str = Field(max_length=200)
    affiliation: str | None = Field(default=None, max_length=200)
    text: str = Field(sa_column=Column(Text, nullable=False))
    email: str = Field(max_length=320, index=True)  # never published
    network: str = Field(max_length=64, index=True)  # the sender's /24 (IPv4) or /64 (IPv6), for rate limits
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    token_hash: str = Field(max_length=64, unique=True)  # SHA-256 of the confirmation link's token
    confirmed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    counted: bool = False
    refused_reason: str | None = Field(default=None, max_length=500)
