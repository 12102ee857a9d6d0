"""The document store: files checked, stored once by SHA-256, read only when intact, bound to versions.

A document is immutable and named by its SHA-256 (PROJECT_CYCLE "Cases and documents");
it is `public` or `confidential`. Storing one is part of the change that brings it (a
draft, an attachment), in that change's transaction, with a `document.stored` audit
event. Content goes to `jcbot.store.blobs` before the row that names it is committed: a
transaction that then fails leaves at most unreferenced content, never a row without
its bytes. Every read re-hashes; `verify` re-hashes everything for `jcbot audit verify`.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from jcbot.services.context import ServiceContext, ServiceError, Tx
from jcbot.services.filetypes import FileRefused, Inspected, check_name, inspect
from jcbot.settings import Settings
from jcbot.store.audit import AuditEvent
from jcbot.store.blobs import BlobError, Blobs, blob_store, require_sha256, sha256_hex
from jcbot.store.db import lock_names
from jcbot.store.documents import Document, ProposalDocument
from jcbot.store.models import Proposal, ProposalVersion

__all__ = ["Attached", "DocumentUnavailable", "FileRefused", "Problem", "Upload", "VISIBILITIES", "carry",
           "content", "hashes", "link", "listing", "of_version", "read", "require_intact", "store", "unlink",
           "verify"]

VISIBILITIES = ("public", "confidential")
DEFAULT_MAX_BYTES = 25 << 20


class DocumentUnavailable(Exception):
    """A stored document's content is missing or altered: it is not served (not a refusal of input)."""


@dataclass(frozen=True)
class Upload:
    """A file on its way in: its name, bytes, visibility, and the items (1, 2...) that approve it."""

    name: str
    data: bytes
    visibility: str = "public"
    items: tuple[int, ...] = ()


@dataclass(frozen=True)
class Attached:
    """A document as a version carries it: what members are shown, and what they assert on."""

    position: int
    name: str
    sha256: str
    size: int
    media_type: str
    visibility: str
    pages: int | None = None
    sheets: tuple[str, ...] | None = None
    items: tuple[int, ...] = ()
    document_id: int | None = field(default=None, compare=False)
    stored_in: str = field(default="files", compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape (`proposal show --json`, notices)."""
        return {"name": self.name, "sha256": self.sha256, "size": self.size, "media_type": self.media_type,
                "visibility": self.visibility, "pages": self.pages,
                "sheets": list(self.sheets) if self.sheets is not None else None, "items": list(self.items)}


@dataclass(frozen=True)
class Problem:
    """A stored document that does not hold: missing, altered, or not what the audit chain recorded."""

    sha256: str
    name: str
    reason: str


@dataclass(frozen=True)
class _Checked:
    upload: Upload
    name: str
    sha256: str
    facts: Inspected


def max_bytes(settings: Settings) -> int:
    """The largest document accepted (JCBOT_DOCUMENT_MAX_BYTES)."""
    return int(getattr(settings, "document_max_bytes", None) or DEFAULT_MAX_BYTES)


def blobs_for(settings: Settings, kind: str | None = None) -> Blobs:
    """The content store of `kind` (default: where new documents go, JCBOT_DOCUMENT_STORE)."""
    return blob_store(kind or getattr(settings, "document_store", None) or "files", settings.storage_path)


def _check(upload: Upload, settings: Settings) -> _Checked:
    """Everything about one upload that needs no database: name, visibility, size, type, facts."""
    name = check_name(upload.name)
    if upload.visibility not in VISIBILITIES:
        raise ServiceError(f"{name}: visibility must be public or confidential, got {upload.visibility!r}")
    facts = inspect(name, upload.data, max_bytes(settings))
    return _Checked(upload, name, sha256_hex(upload.data), facts)


def _facts_of(d: Document) -> dict[str, Any]:
    return {"sha256": d.sha256, "name": d.name, "media_type": d.media_type, "size": d.size,
            "visibility": d.visibility, "pages": d.pages, "sheets": d.sheets, "stored_in": d.stored_in}


def _store(tx: Tx, c: _Checked, committee_id: int | None) -> Document:
    # Two transactions storing the same bytes at once must not both insert the row.
    lock_names(tx.session, "document", c.sha256)
    doc = tx.session.exec(select(Document).where(Document.sha256 == c.sha256)).first()
    if doc is not None:
        if doc.visibility != c.upload.visibility:
            # The same bytes cannot be both: a public version is another file, with parts made illegible.
            raise ServiceError(f"{c.name} has the same content as {doc.name}, stored as {doc.visibility} "
                               f"(SHA-256 {c.sha256}); a document is public or confidential, not both "
                               "(a public version is another file, with the confidential parts made illegible)")
        # Known bytes brought again: content that went missing or was damaged is written back.
        if blobs_for(tx.ctx.settings, doc.stored_in).put(tx.session, c.sha256, c.upload.data):
            tx.audit("document.restored", f"document:{c.sha256}", _facts_of(doc), committee_id)
        return doc
    kind = blobs_for(tx.ctx.settings)
    kind.put(tx.session, c.sha256, c.upload.data)
    doc = Document(sha256=c.sha256, name=c.name, media_type=c.facts.media_type, size=len(c.upload.data),
                   visibility=c.upload.visibility, pages=c.facts.pages,
                   sheets=list(c.facts.sheets) if c.facts.sheets is not None else None,
                   stored_in=kind.kind, added_at=tx.now, added_by=tx.actor)
    tx.session.add(doc)
    tx.session.flush()
    tx.audit("document.stored", f"document:{c.sha256}", _facts_of(doc), committee_id)
    return doc


def store(tx: Tx, upload: Upload, committee_id: int | None = None) -> Document:
    """Check a file and store it (once per SHA-256) in the caller's transaction; FileRefused/ServiceError if refused."""
    return _store(tx, _check(upload, tx.ctx.settings), committee_id)


def _attached(link_: ProposalDocument, d: Document) -> Attached:
    return Attached(link_.position, link_.name, d.sha256, d.size, d.media_type, d.visibility, d.pages,
                    tuple(d.sheets) if d.sheets is not None else None, tuple(link_.items or ()), d.id, d.stored_in)


def of_version(session: Session, version_id: int) -> list[Attached]:
    """The documents a version carries, in order."""
    rows = session.exec(select(ProposalDocument, Document).join(Document, Document.id == ProposalDocument.document_id)
                        .where(ProposalDocument.version_id == version_id).order_by(ProposalDocument.position))
    return [_attached(pd, d) for pd, d in rows]


_PD, _D = ProposalDocument.__table__, Document.__table__  # type: ignore[attr-defined]
# Built once: every assertion reads it.
_HASHES = (sa_select(_D.c.sha256).join(_PD, _PD.c.document_id == _D.c.id)
           .where(_PD.c.version_id == bindparam("version_id")))


def hashes(session: Session, version_id: int) -> list[str]:
    """The SHA-256s of a version's documents, sorted: what an assertion on it is bound to."""
    return sorted(session.connection().execute(_HASHES, {"version_id": version_id}).scalars())


_PUBLIC = _HASHES.where(_D.c.visibility == "public")


def public_hashes(session: Session, version_id: int) -> list[str]:
    """The sorted SHA-256s of a version's public documents: what its decision publishes."""
    return sorted(session.connection().execute(_PUBLIC, {"version_id": version_id}).scalars())


def hashes_column(version_id: Any) -> Any:
    """`hashes` as a column of another statement (the version's id a column of it): read with `hashes_from`.

    One text per version, the hashes joined by commas (hex digits never hold one), so a
    statement that reads a version reads what an assertion on it is bound to as well.
    """
    pd, d = _PD.alias("pd"), _D.alias("d")
    return (sa_select(func.aggregate_strings(d.c.sha256, ","))
            .select_from(d.join(pd, pd.c.document_id == d.c.id))
            .where(pd.c.version_id == version_id).scalar_subquery())


def hashes_from(column: str | None) -> list[str]:
    """The sorted SHA-256s a `hashes_column` read."""
    return sorted(column.split(",")) if column else []


def _items(name: str, items: tuple[int, ...], item_count: int) -> list[int] | None:
    for n in items:
        if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= item_count:
            raise ServiceError(f"{name}: names item {n!r}, but the proposal has items 1 to {item_count}")
    return sorted(set(items)) or None


def link(tx: Tx, version: ProposalVersion, uploads: list[Upload], item_count: int,
         committee_id: int | None) -> list[Attached]:
    """Store `uploads` and add them to a draft `version` after its documents; returns what was added.

    Every file is checked before anything is written. The same file under the same name
    again is no change (its content is written back if it went missing); another file
    under a name the version already carries, or the same content under a second name,
    is refused.
    """
    if version.distributed_at is not None:
        raise ServiceError(f"version {version.version} was distributed; its documents are frozen")
    checked = [_check(u, tx.ctx.settings) for u in uploads]
    current = of_version(tx.session, version.id)  # type: ignore[arg-type]
    by_name = {a.name: a for a in current}
    by_hash = {a.sha256: a for a in current}
    plan: list[tuple[_Checked, list[int] | None]] = []
    for c in checked:
        items = _items(c.name, c.upload.items, item_count)
        same_name, same_content = by_name.get(c.name), by_hash.get(c.sha256)
        if same_name is not None and same_name.sha256 != c.sha256:
            raise ServiceError(f"version {version.version} already carries another file named {c.name}; "
                               "detach it first, or give this file another name")
        if same_content is not None and same_content.name != c.name:
            raise ServiceError(f"{c.name} has the same content as {same_content.name}, which version "
                               f"{version.version} already carries")
        by_name[c.name] = by_hash[c.sha256] = Attached(0, c.name, c.sha256, 0, "", "")
        plan.append((c, items))
    added, position = [], max((a.position for a in current), default=0)
    for c, items in plan:
        doc = _store(tx, c, committee_id)
        if any(a.sha256 == c.sha256 for a in current):
            continue  # already carried under this name: nothing to add
        position += 1
        row = ProposalDocument(version_id=version.id, document_id=doc.id, position=position, name=c.name, items=items)
        tx.session.add(row)
        added.append(_attached(row, doc))
    tx.session.flush()
    return added


def unlink(tx: Tx, version: ProposalVersion, name: str) -> Attached:
    """Take the document called `name` off a draft `version` (the stored file stays: others may carry it)."""
    if version.distributed_at is not None:
        raise ServiceError(f"version {version.version} was distributed; its documents are frozen")
    row = tx.session.exec(select(ProposalDocument).where(ProposalDocument.version_id == version.id,
                                                         ProposalDocument.name == name)).first()
    if row is None:
        names = ", ".join(a.name for a in of_version(tx.session, version.id)) or "none"  # type: ignore[arg-type]
        raise ServiceError(f"version {version.version} carries no document named {name!r} (it carries: {names})")
    gone = _attached(row, tx.session.get(Document, row.document_id))  # type: ignore[arg-type]
    tx.session.delete(row)
    tx.session.flush()
    return gone


def carry(tx: Tx, old: ProposalVersion, new: ProposalVersion, keep_items: bool) -> list[Attached]:
    """Give a new version the documents of the one it revises (item bindings only if the items stay)."""
    carried = of_version(tx.session, old.id)  # type: ignore[arg-type]
    for a in carried:
        tx.session.add(ProposalDocument(version_id=new.id, document_id=a.document_id, position=a.position,
                                        name=a.name, items=list(a.items) if keep_items and a.items else None))
    tx.session.flush()
    return carried if keep_items else [Attached(a.position, a.name, a.sha256, a.size, a.media_type, a.visibility,
                                                a.pages, a.sheets, (), a.document_id, a.stored_in) for a in carried]


def require_intact(session: Session, settings: Settings, version_id: int) -> None:
    """ServiceError naming the first document of a version whose stored content is missing or altered."""
    for a in of_version(session, version_id):
        problem = blobs_for(settings, a.stored_in).check(session, a.sha256)
        if problem:
            raise ServiceError(f"{a.name} (SHA-256 {a.sha256}) cannot be sent: its stored content is {problem}; "
                               "attach the same file again to restore it")


def content(session: Session, settings: Settings, doc: Document) -> bytes:
    """The bytes of `doc`, re-hashed; DocumentUnavailable if they are missing or altered."""
    try:
        return blobs_for(settings, doc.stored_in).read(session, doc.sha256)
    except BlobError as exc:
        raise DocumentUnavailable(f"{doc.name}: {exc}") from None


def read(ctx: ServiceContext, sha256: str) -> tuple[Document, bytes]:
    """A stored document and its verified bytes (ServiceError if unknown, DocumentUnavailable if altered)."""
    try:
        require_sha256(sha256)
    except ValueError as exc:
        raise ServiceError(str(exc)) from None
    with ctx.read() as tx:
        doc = tx.session.exec(select(Document).where(Document.sha256 == sha256)).first()
        if doc is None:
            raise ServiceError(f"no document with SHA-256 {sha256}")
        return doc, content(tx.session, ctx.settings, doc)


def listing(ctx: ServiceContext) -> list[tuple[Document, list[str]]]:
    """Every stored document, oldest first, with the proposal versions (REF vN) that carry it."""
    with ctx.read() as tx:
        carriers: dict[int, list[str]] = {}
        q = (select(ProposalDocument.document_id, Proposal.ref, ProposalVersion.version)
             .join(ProposalVersion, ProposalVersion.id == ProposalDocument.version_id)
             .join(Proposal, Proposal.id == ProposalVersion.proposal_id)
             .order_by(Proposal.ref, ProposalVersion.version))
        for doc_id, ref, number in tx.session.exec(q):
            carriers.setdefault(doc_id, []).append(f"{ref} v{number}")
        docs = tx.session.exec(select(Document).order_by(Document.id)).all()
        return [(d, carriers.get(d.id, [])) for d in docs]  # type: ignore[arg-type]


def verify(ctx: ServiceContext) -> tuple[int, list[Problem]]:
    """Re-hash every stored document and check it against the audit chain; (documents checked, problems).

    The chain recorded each document when it was stored (`document.stored`: hash, size,
    visibility) and each version's hashes when it was distributed: a file swapped, a row
    edited or a distributed version's documents changed afterwards are all named.
    """
    problems: list[Problem] = []
    with ctx.read() as tx:
        s = tx.session
        recorded = {}
        for data in _event_data(s, "document.stored"):
            recorded.setdefault(data.get("sha256"), data)
        docs = s.exec(select(Document).order_by(Document.id)).all()
        for d in docs:
            problem = blobs_for(ctx.settings, d.stored_in).check(s, d.sha256)
            if problem:
                problems.append(Problem(d.sha256, d.name, problem))
            event = recorded.get(d.sha256)
            if event is None:
                problems.append(Problem(d.sha256, d.name, "no document.stored event in the audit chain records it"))
            elif (event.get("size"), event.get("visibility"), event.get("media_type")) != (d.size, d.visibility, d.media_type):
                problems.append(Problem(d.sha256, d.name, "its row differs from the audit chain's record "
                                        f"(size, visibility, media type: {event.get('size')}, "
                                        f"{event.get('visibility')}, {event.get('media_type')})"))
        problems.extend(_distributed_mismatches(s))
    return len(docs), problems


def _event_data(session: Session, action: str) -> Iterator[dict[str, Any]]:
    for (data,) in session.execute(select(AuditEvent.data).where(AuditEvent.action == action).order_by(AuditEvent.id)):
        yield json.loads(data)


def _distributed_mismatches(session: Session) -> list[Problem]:
    """Distributed versions whose documents are not the hashes their `proposal.distributed` event recorded."""
    sent: dict[tuple[str, int], list[str]] = {}
    for (subject, data) in session.execute(select(AuditEvent.subject, AuditEvent.data)
                                           .where(AuditEvent.action == "proposal.distributed")):
        value = json.loads(data)
        sent[(subject.removeprefix("proposal:"), value.get("version"))] = sorted(value.get("documents") or [])
    carried: dict[tuple[str, int], list[tuple[str, str]]] = {}
    q = (select(Proposal.ref, ProposalVersion.version, ProposalDocument.name, Document.sha256)
         .join(ProposalVersion, ProposalVersion.proposal_id == Proposal.id)
         .join(ProposalDocument, ProposalDocument.version_id == ProposalVersion.id)
         .join(Document, Document.id == ProposalDocument.document_id)
         .where(ProposalVersion.distributed_at.is_not(None)))  # type: ignore[union-attr]
    for ref, number, name, sha in session.exec(q):
        carried.setdefault((ref, number), []).append((name, sha))
    problems = []
    for key in sorted(set(carried) | {k for k, v in sent.items() if v}):
        now_ = sorted(sha for _, sha in carried.get(key, []))
        if key in sent and now_ != sent[key]:
            names = ", ".join(name for name, _ in carried.get(key, [])) or "none"
            problems.append(Problem("", f"{key[0]} v{key[1]}", f"carries other documents ({names}) than the "
                                    f"{len(sent[key])} hash(es) recorded when it was distributed"))
    return problems
