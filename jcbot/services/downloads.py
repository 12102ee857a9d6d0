"""Who may download a stored document, and the download itself (verified bytes, logged).

PROJECT_CYCLE "Cases and documents": the public sees public versions only; JC members,
the secretariat and experts appointed to the case see both. So a document is served

- to anyone, when it is public and carried by the version an adopted decision settled;
- otherwise only to someone entitled in a committee whose proposal or case carries it:
  an active member of it (the roster decides at `now`: a member who left is refused at
  once, even with a link made for them), or its secretariat (or the secretariat of every
  committee); or an expert appointed to a proposal that carries it, until the
  appointment is revoked (jcbot.services.experts).

Every restricted download is an audit event (`document.downloaded`: the document, who,
by link or by session); a public one only a log line, so anonymous readers cannot grow
the chain (or take the write lock) at will.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import Session, select

from jcbot.downloads import parse_recipient
from jcbot.services.context import ServiceContext
from jcbot.services.documents import DocumentUnavailable, content
from jcbot.services.roster_log import load_roster
from jcbot.services.viewers import Viewer
from jcbot.store.cases import Case, CaseDocument
from jcbot.store.documents import Document, ProposalDocument
from jcbot.store.experts import ExpertAppointment
from jcbot.store.models import Committee, Decision, Member, Proposal, ProposalVersion, Secretariat

log = logging.getLogger(__name__)

__all__ = ["Denied", "DocumentUnavailable", "Served", "committees_of", "is_published", "serve"]


class Denied(Exception):
    """The document is not served to this requester; `status` is 404 (unknown) or 403 (not theirs)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Served:
    """A document about to be sent: its row, its verified bytes, and how it was allowed."""

    document: Document
    data: bytes
    basis: str  # public, link, session


def committees_of(session: Session, document_id: int) -> set[int]:
    """The committees whose proposals (any version) or cases carry the document."""
    q = (select(Proposal.committee_id).join(ProposalVersion, ProposalVersion.proposal_id == Proposal.id)
         .join(ProposalDocument, ProposalDocument.version_id == ProposalVersion.id)
         .where(ProposalDocument.document_id == document_id))
    out = set(session.exec(q))
    q2 = select(Case.committee_id).join(CaseDocument, CaseDocument.case_id == Case.id).where(
        CaseDocument.document_id == document_id)
    return out | set(session.exec(q2))


def is_published(session: Session, doc: Document) -> bool:
    """A public document that an adopted decision's version carries: public to anyone."""
    if doc.visibility != "public":
        return False
    q = (select(Decision.id).join(ProposalDocument, ProposalDocument.version_id == Decision.version_id)
         .where(ProposalDocument.document_id == doc.id))
    return session.exec(q).first() is not None


def _recipient_entitled(session: Session, recipient: str, committees: set[int], now, document_id: int) -> int | None:
    """The committee through which `recipient` may read the document, or None."""
    kind, number = parse_recipient(recipient)
    if kind == "expert":  # appointed (and not revoked) to a proposal one of whose versions carries it
        a = session.get(ExpertAppointment, number)
        if a is None or a.revoked_at is not None:
            return None
        carried = session.exec(select(ProposalDocument.id).join(
            ProposalVersion, ProposalVersion.id == ProposalDocument.version_id).where(
            ProposalVersion.proposal_id == a.proposal_id, ProposalDocument.document_id == document_id)).first()
        return a.committee_id if carried is not None else None
    if kind == "member":
        m = session.get(Member, number)
        if m is None or m.committee_id not in committees:
            return None
        c = session.get(Committee, m.committee_id)
        return m.committee_id if c is not None and load_roster(session, c).is_active(m.handle, now) else None
    if kind == "secretariat":
        s = session.get(Secretariat, number)
        if s is None:
            return None
        if s.committee_id is None:
            return min(committees) if committees else None
        return s.committee_id if s.committee_id in committees else None
    return None


def _viewer_entitled(viewer: Viewer, committees: set[int]) -> int | None:
    for a in viewer.access:
        if a.committee.id in committees:
            return a.committee.id  # type: ignore[return-value]
    return None


def serve(ctx: ServiceContext, sha256: str, *, recipient: str | None = None, viewer: Viewer | None = None) -> Served:
    """The verified bytes of `sha256` for a link's `recipient`, a signed-in `viewer`, or (public) anyone.

    Denied(404) for an unknown document, Denied(403) for one the requester may not read,
    DocumentUnavailable when its stored content is missing or altered (nothing is served).
    """
    with ctx.read("download") as tx:
        s = tx.session
        doc = s.exec(select(Document).where(Document.sha256 == sha256)).first()
        if doc is None:
            raise Denied(404, "there is no such document")
        committees = committees_of(s, doc.id)  # type: ignore[arg-type]
        via, who, committee_id = "public", None, None
        if recipient is not None:
            committee_id = _recipient_entitled(s, recipient, committees, tx.now, doc.id)  # type: ignore[arg-type]
            via, who = "link", recipient
        if committee_id is None and viewer is not None:
            committee_id = _viewer_entitled(viewer, committees)
            if committee_id is not None:
                via, who = "session", f"session:{viewer.email}"
        if committee_id is None:
            if not is_published(s, doc):
                # The same answer whether the document is confidential or not yet adopted:
                # nothing about it is told to someone who may not read it.
                raise Denied(403, "this document is for the members and the secretariat of its committee only"
                             if recipient is None else "the person this link was made for may not read this "
                             "document (no longer a member of its committee, or another committee's)")
            via = "public"
        data = content(s, ctx.settings, doc)
    if via == "public":
        log.info("event=document.downloaded sha256=%s via=public", sha256)
    else:
        with ctx.tx(who or "download") as wtx:
            wtx.audit("document.downloaded", f"document:{sha256}", {
                "sha256": sha256, "name": doc.name, "visibility": doc.visibility, "by": who, "via": via,
            }, committee_id)
    return Served(doc, data, via)
