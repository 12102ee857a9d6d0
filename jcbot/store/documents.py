"""The document tables: one row per stored file (by SHA-256), and the documents each proposal version carries.

The content itself is in `jcbot.store.blobs` (files or the database), named by the same
SHA-256; `stored_in` says where, so changing JCBOT_DOCUMENT_STORE later leaves older
documents readable where they were written.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from jcbot.store.db import JSONText, UTCDateTime


class Document(SQLModel, table=True):
    """An immutable file, identified by its SHA-256; public or confidential."""

    __tablename__ = "document"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)  # the name it was first stored under
    media_type: str = Field(max_length=100)
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    visibility: str = Field(max_length=16)  # public, confidential
    pages: int | None = None  # a PDF's page count
    sheets: list | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))  # a workbook's sheet names
    stored_in: str = Field(max_length=16)  # files, database
    added_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    added_by: str = Field(max_length=200)


class ProposalDocument(SQLModel, table=True):
    """A document one proposal version carries, in order; frozen once the version is distributed."""

    __tablename__ = "proposal_document"
    __table_args__ = (
        UniqueConstraint("version_id", "document_id", name="uq_proposal_document_version_document"),
        UniqueConstraint("version_id", "name", name="uq_proposal_document_version_name"),
    )
    id: int | None = Field(default=None, primary_key=True)
    version_id: int = Field(foreign_key="proposal_version.id", index=True)
    document_id: int = Field(foreign_key="document.id", index=True)
    position: int
    name: str = Field(max_length=255)  # as attached to this version (the same bytes may bear other names elsewhere)
    # Positions (1, 2...) of the items that approve this document; None: the proposal as a whole.
    items: list | None = Field(default=None, sa_column=Column(JSONText(), nullable=True))
