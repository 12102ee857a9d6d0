"""Documents given to a case outside its events: the secretariat adds a file to a case still open.

A case's documents usually come with its events (`cases.submit`, `cases.record`). The
secretariat may also add one on its own (a public version with parts made illegible, a
missing annex): one transaction that stores the file (`documents.store`, with its
`document.stored` audit event), gives it to the case and records `case.document_added`.
Refused, changing nothing: a case settled for good (its documents are those the decision
was taken on), a case a JC proposal carries (the proposal bound the documents as they
were: attach the file to the draft, or withdraw the proposal first), a name the case
already gives another file, and whatever the document store refuses (type, size,
visibility).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from jcbot.core.cycle import final
from jcbot.services import documents
from jcbot.services.case_flow import find
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.documents import Upload
from jcbot.services.filetypes import check_name
from jcbot.store.cases import CaseDocument, CaseItem
from jcbot.store.documents import Document
from jcbot.store.models import Proposal

__all__ = ["Added", "attach"]

CARRYING = ("draft", "open", "objected", "referred")  # a proposal still binding the case's documents


@dataclass(frozen=True)
class Added:
    """A document a case now holds."""

    name: str
    visibility: str
    sha256: str


def attach(ctx: ServiceContext, ref: str, uploads: list[Upload], actor: str) -> list[Added]:
    """Give `uploads` to case `ref` (one transaction); returns what was added (the same file again adds nothing)."""
    if not uploads:
        raise ServiceError("choose a file to add to the case")
    with ctx.tx(actor) as tx:
        case = find(tx.session, ref, lock=True)
        tx.after_lock()
        if final(case.kind, case.state):  # type: ignore[arg-type]
            raise ServiceError(f"{case.ref} is {case.state}: its documents are those the Joint Committee decided on")
        q = (select(Proposal).join(CaseItem, CaseItem.proposal_id == Proposal.id)
             .where(CaseItem.case_id == case.id, Proposal.status.in_(CARRYING)))  # type: ignore[attr-defined]
        if (p := tx.session.exec(q).first()) is not None:
            raise ServiceError(f"{case.ref} is carried by {p.ref} ({p.status}), which holds the case's documents as they "
                               f"were: attach the file to {p.ref} while it is a draft, or withdraw it first")
        held = {cd.name: d.sha256 for cd, d in tx.session.exec(
            select(CaseDocument, Document).join(Document, Document.id == CaseDocument.document_id)
            .where(CaseDocument.case_id == case.id))}
        added = []
        for u in uploads:
            name = check_name(u.name)
            doc = documents.store(tx, u, case.committee_id)  # checks type, size and visibility first
            if held.get(name) == doc.sha256:
                continue  # the same file under the same name: nothing to add
            if name in held:
                raise ServiceError(f"{case.ref} already holds another file named {name}: a new version is a new "
                                   "document, give it another name")
            if doc.sha256 in held.values():
                raise ServiceError(f"{case.ref} already holds this file under another name")
            tx.session.add(CaseDocument(case_id=case.id, document_id=doc.id, event_id=None, name=name,
                                        added_at=tx.now))
            held[name] = doc.sha256
            added.append(Added(name, doc.visibility, doc.sha256))
            tx.audit("case.document_added", f"case:{case.ref}",
                     {"name": name, "sha256": doc.sha256, "visibility": doc.visibility}, case.committee_id)
        tx.session.flush()
        return added
