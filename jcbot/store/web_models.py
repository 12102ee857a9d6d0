"""Tables of the web side: sign-in links, dashboard sessions, API keys and their idempotency records.

Only hashes of the secrets are stored (SHA-256 of a high-entropy random value), so a
copy of the database does not let anyone sign in or call the API.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from jcbot.store.db import UTCDateTime


def _instant(nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class SigninToken(SQLModel, table=True):
    """A single-use sign-in link sent by email; valid until `expires_at`, once."""

    __tablename__ = "web_signin_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320, index=True)
    created_at: datetime = Field(sa_column=_instant())
    expires_at: datetime = Field(sa_column=_instant())
    used_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class WebSession(SQLModel, table=True):
    """A signed-in browser: the signed cookie names it, the row can be revoked."""

    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    session_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=320, index=True)
    created_at: datetime = Field(sa_column=_instant())
    expires_at: datetime = Field(sa_column=_instant())
    revoked_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class ApiKey(SQLModel, table=True):
    """The key of one integration calling /api/v1 (the secretariat's other systems)."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    key_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)  # the first characters, to tell keys apart in listings
    created_at: datetime = Field(sa_column=_instant())
    created_by: str = Field(max_length=200)
    revoked_at: datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    # What the key may do, space-separated (read, draft, distribute, record): keys made
    # before scopes existed keep read, on every committee.
    scopes: str = Field(default="read", sa_column=Column(String(64), nullable=False, server_default="read"))
    # The committees' slugs it may act on, space-separated; None: every committee.
    committees: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ApiIdempotency(SQLModel, table=True):
    """A POST made with an Idempotency-Key: its request's hash and, once done, the answer a retry gets again."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "key", name="uq_api_idempotency_api_key_id_key"),)
    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id")
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    status: int | None = None  # None while the first request is still being answered
    response: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=_instant())
