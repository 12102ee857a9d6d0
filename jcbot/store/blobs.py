"""Where the content of documents lives: content-addressed files, or a table of the database.

Content is named by its SHA-256 and never changes. `FileBlobs` keeps it under
`<storage>/documents/ab/cd/<sha256>` (written to a temporary file, fsync'd, renamed into
place, the folder fsync'd); `DatabaseBlobs` keeps it in `document_content`, so that
replicas on one PostgreSQL share it and one backup holds everything. Either way every
read re-hashes the bytes and refuses to hand out content that does not match its name.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from sqlalchemy import Column, LargeBinary, select, update
from sqlmodel import Field, Session, SQLModel

import jcbot.store.db  # noqa: F401  (the naming convention is set before any table is defined)

KINDS = ("files", "database")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class BlobError(Exception):
    """Stored content that cannot be served: missing, or not the bytes its SHA-256 names."""


class BlobMissing(BlobError):
    """No content is stored under this SHA-256."""


class BlobCorrupt(BlobError):
    """The stored bytes do not hash to the SHA-256 they are stored under (altered or damaged)."""


class DocumentContent(SQLModel, table=True):
    """The bytes of one document, when documents are kept in the database."""

    __tablename__ = "document_content"
    sha256: str = Field(primary_key=True, max_length=64)
    content: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of `data`, as 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


def require_sha256(sha256: str) -> str:
    """`sha256` itself if it is 64 lower-case hex digits; ValueError otherwise (it becomes a path)."""
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a SHA-256 (64 lower-case hex digits): {sha256!r}")
    return sha256


class Blobs(Protocol):
    """A content-addressed store: put once, read verified, check without serving."""

    kind: str

    def put(self, session: Session, sha256: str, data: bytes) -> bool:
        """Store `data` under `sha256` (which it must hash to); False (nothing written) if intact content is there."""

    def read(self, session: Session, sha256: str) -> bytes:
        """The content, re-hashed: BlobMissing or BlobCorrupt rather than wrong bytes."""

    def check(self, session: Session, sha256: str) -> str | None:
        """What is wrong with the stored content (missing, altered), or None if it is intact."""


def _require_match(sha256: str, data: bytes) -> None:
    require_sha256(sha256)
    if sha256_hex(data) != sha256:
        raise ValueError(f"content does not hash to {sha256}: refusing to store it under that name")


class FileBlobs:
    """Content as read-only files at content-addressed paths under `root`."""

    kind = "files"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the content of `sha256` lives: root/ab/cd/abcd..."""
        require_sha256(sha256)
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, session: Session, sha256: str, data: bytes) -> bool:
        _require_match(sha256, data)
        target = self.path(sha256)
        if self._digest(target) == sha256:
            return False  # already there and intact: content-addressed, nothing to rewrite
        created = _make_dirs(target.parent, self.root)
        # A reader never sees a half-written file: the bytes reach the disk under a
        # temporary name in the same folder and are renamed into place in one step; a
        # crash leaves at most a stray ".part" file, never a wrong file at the real path.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{sha256[:16]}-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)  # replaces damaged content, if a repair brought the bytes again
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # The rename (and any folder made for it) is durable only once the folders are synced.
        for folder in [target.parent, *created]:
            _fsync_dir(folder)
        return True

    def read(self, session: Session, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"document {sha256}: no file at {path}") from None
        if sha256_hex(data) != sha256:
            raise BlobCorrupt(f"document {sha256}: the file at {path} does not match its SHA-256 "
                              "(altered or damaged); it is not served")
        return data

    def check(self, session: Session, sha256: str) -> str | None:
        path = self.path(sha256)
        digest = self._digest(path)
        if digest is None:
            return f"missing: no file at {path}"
        if digest != sha256:
            return f"altered: the file at {path} hashes to {digest}"
        return None

    @staticmethod
    def _digest(path: Path) -> str | None:
        """The SHA-256 of the file at `path` (read in chunks), or None if there is none."""
        h = hashlib.sha256()
        try:
            with path.open("rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
        except FileNotFoundError:
            return None
        return h.hexdigest()


def _make_dirs(folder: Path, root: Path) -> list[Path]:
    """Make `folder` (and its parents); return the parents of each folder made, whose entries changed."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        if probe == root or probe.parent == probe:
            break
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return [p.parent for p in missing]


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class DatabaseBlobs:
    """Content as rows of `document_content`, written in the caller's transaction."""

    kind = "database"

    def put(self, session: Session, sha256: str, data: bytes) -> bool:
        _require_match(sha256, data)
        stored = self._content(session, sha256)
        if stored is None:
            session.add(DocumentContent(sha256=sha256, content=data))
        elif sha256_hex(stored) != sha256:
            # Damaged content repaired by the same bytes brought again.
            session.execute(update(DocumentContent).where(DocumentContent.sha256 == sha256).values(content=data))
        else:
            return False
        session.flush()
        return True

    def read(self, session: Session, sha256: str) -> bytes:
        data = self._content(session, sha256)
        if data is None:
            raise BlobMissing(f"document {sha256}: no row in document_content")
        if sha256_hex(data) != sha256:
            raise BlobCorrupt(f"document {sha256}: the database's copy does not match its SHA-256 "
                              "(altered or damaged); it is not served")
        return data

    def check(self, session: Session, sha256: str) -> str | None:
        data = self._content(session, sha256)
        if data is None:
            return "missing: no row in document_content"
        digest = sha256_hex(data)
        return None if digest == sha256 else f"altered: the database's copy hashes to {digest}"

    @staticmethod
    def _content(session: Session, sha256: str) -> bytes | None:
        # A plain column read: the bytes are not kept in the session's identity map.
        require_sha256(sha256)
        data = session.execute(select(DocumentContent.content).where(DocumentContent.sha256 == sha256)).scalar()
        return bytes(data) if data is not None else None


def blob_store(kind: str, storage_dir: Path | str) -> Blobs:
    """The store of `kind` ('files': under storage_dir/documents; 'database')."""
    if kind == "files":
        return FileBlobs(Path(storage_dir) / "documents")
    if kind == "database":
        return DatabaseBlobs()
    raise ValueError(f"unknown document store {kind!r}: expected one of {', '.join(KINDS)}")
