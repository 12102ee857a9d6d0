"""Cases of the project cycle: submit, check, record, show, list, propose to the JC; registries.

Every step is one transaction: the core (`jcbot.core.cycle.evaluate`, through
`case_flow`) judges the new event before anything is written; then the event, its
documents, the audit event and the notices (proponent, secretariat, co-chairs) are
written together. A refused event is a ServiceError and changes nothing.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import select

from jcbot.core.cycle import (
    KINDS, OUTCOMES, CaseStart, CaseView, Check, CycleRefused, IssuanceRequested, PddPublished, ProposalDistributed,
    RegistrationRequested, Resubmitted, ValidationReport, allowed, evaluate, final, first,
)
from jcbot.core.roster import GOVERNMENTS
from jcbot.services import case_flow, documents
from jcbot.services.case_flow import PIN_ITEM, Loaded, item_kind, find, load, new_ref, tell, view_of
from jcbot.services.context import ServiceContext, ServiceError, Tx
from jcbot.services.documents import Upload
from jcbot.services.filetypes import check_name
from jcbot.services.numbering import next_value
from jcbot.services.proposals import Item, create_draft
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import committee_rules
from jcbot.store.cases import Case, CaseDocument, CaseEvent, CaseItem, Registry
from jcbot.store.documents import Document
from jcbot.store.models import Committee, Proposal

__all__ = ["CaseInfo", "RECORDABLE", "check", "list_cases", "propose", "record", "set_registry", "show", "submit"]

# Events a case's people record (`jcbot case record REF EVENT`); the JC's are recorded by proposals.
RECORDABLE = {"pdd_published": PddPublished, "validation_report": ValidationReport,
              "registration_requested": RegistrationRequested, "resubmitted": Resubmitted,
              "issuance_requested": IssuanceRequested}
SUBMITTABLE = tuple(k for k in KINDS if k != "issuance")  # an issuance is recorded on its registered project


@dataclass(frozen=True)
class CaseInfo:
    """A case as `case show` presents it: the row, the core's view, its events, documents and proposals."""

    case: Case
    committee: Committee
    view: CaseView
    events: list[CaseEvent]
    documents: list[tuple[CaseDocument, Document]]
    proposals: list[tuple[str, int, str, str]]  # (proposal ref, item position, outcome, proposal status)


def _proponent(email: str) -> str:
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in email.strip()):
        raise ServiceError(f"--proponent: expected the proponent's email address, got {email!r}")
    return email.strip()


def _attach(tx: Tx, case: Case, uploads: list[Upload], event: CaseEvent | None) -> list[str]:
    """Store uploads in the document store and give them to the case; returns their SHA-256s."""
    out = []
    for u in uploads:
        doc = documents.store(tx, u, case.committee_id)
        known = tx.session.exec(select(CaseDocument).where(CaseDocument.case_id == case.id,
                                                           CaseDocument.document_id == doc.id)).first()
        if known is None:
            tx.session.add(CaseDocument(case_id=case.id, document_id=doc.id, event_id=event.id if event else None,
                                        name=check_name(u.name), added_at=tx.now))
        out.append(doc.sha256)
    tx.session.flush()
    return out


def _start_row(tx: Tx, case: Case, start: CaseStart) -> CaseEvent:
    row = CaseEvent(case_id=case.id, at=tx.now, kind=first(start.kind).trigger, data={}, actor=tx.actor)
    tx.session.add(row)
    tx.session.flush()
    return row


def submit(ctx: ServiceContext, slug: str, kind: str, title: str, proponent: str, uploads: list[Upload],
           actor: str) -> Case:
    """A new methodology, project (PIN or PDD next) or TPE application; a methodology gets its XX_PM### now."""
    if kind not in SUBMITTABLE:
        raise ServiceError(f"kind must be one of {', '.join(SUBMITTABLE)} (an issuance is recorded on its registered "
                           f"project: jcbot case record PROJECT issuance-requested), got {kind!r}")
    if not title.strip():
        raise ServiceError("a case needs a title")
    email = _proponent(proponent)
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        seq = next_value(tx.session, c.id, "methodology-proposed") if first(kind).gives == "PM" else None  # type: ignore[arg-type]
        start = CaseStart(kind, c.code, tx.now, seq)  # type: ignore[arg-type]
        view = evaluate(start, [], committee_rules(c), tx.now)
        case = Case(committee_id=c.id, ref=new_ref(tx, c), kind=kind, title=title.strip(), proponent=email,
                    created_at=tx.now, created_by=actor, seq=seq, state=view.state)
        tx.session.add(case)
        tx.session.flush()
        row = _start_row(tx, case, start)
        hashes = _attach(tx, case, uploads, row)
        row.documents = hashes or None
        case_flow.cache(tx, case, view)
        tx.audit("case.submitted", f"case:{case.ref}", {"kind": kind, "title": case.title, "proponent": email,
                                                         "state": view.state, "number": view.number,
                                                         "documents": hashes}, c.id)
        lines = [f"{case.ref} ({case.title}), a {kind}, was received from {email}."]
        lines += [f"Its number is {view.number}."] if view.number else []
        tell(tx, c, case, "submitted", f"{kind} received" + (f" as {view.number}" if view.number else ""),
             lines + _window_lines(view), view=view)
        return case


def _window_lines(view: CaseView) -> list[str]:
    return [f"The {name.replace('_', ' ')} window ends at {w.end.isoformat()}." for name, w in view.windows.items()
            if w.contains(view.evaluated_at)]


def check(ctx: ServiceContext, ref: str, complete: bool, reason: str | None, actor: str) -> CaseView:
    """The secretariat's completeness check: complete moves the case on; incomplete returns it with the reason."""
    with ctx.tx(actor) as tx:
        loaded = _locked(tx, ref)
        _, view = case_flow.record(tx, loaded, Check(tx.now, complete, (reason or "").strip() or None))
        case, c = loaded.case, loaded.committee
        if complete:
            tell(tx, c, case, f"check:{tx.now.isoformat()}", f"complete; now {view.state}",
                 [f"The secretariat found {case.ref} ({case.title}) complete.", f"It is now {view.state}."]
                 + _window_lines(view), view=view)
        else:
            tell(tx, c, case, f"check:{tx.now.isoformat()}", "incomplete: returned to the proponent",
                 [f"The secretariat found {case.ref} ({case.title}) incomplete:", (reason or "").strip(),
                  "Resubmit it with what is missing (jcbot case record REF resubmitted --document ...)."], view=view)
        return view


def _locked(tx: Tx, ref: str) -> Loaded:
    case = find(tx.session, ref, lock=True)
    tx.after_lock()
    return load(tx.session, case)


def record(ctx: ServiceContext, ref: str, event: str, uploads: list[Upload], actor: str, *, amount: int | None = None,
           shares: Mapping[str, int] | None = None, period: str | None = None) -> Case:
    """Record a case's own event with its documents; an issuance request opens the issuance case it returns."""
    event = event.replace("-", "_")
    if event not in RECORDABLE:
        raise ServiceError(f"event must be one of {', '.join(e.replace('_', '-') for e in RECORDABLE)}, got {event!r}")
    if event != "issuance_requested" and (amount is not None or shares):
        raise ServiceError("--amount and --share go with issuance-requested only")
    with ctx.tx(actor) as tx:
        loaded = _locked(tx, ref)
        if event == "issuance_requested":
            return _issuance(tx, loaded, amount, dict(shares or {}), period, uploads)
        ev = RECORDABLE[event](tx.now)
        view = case_flow.check(loaded, ev)  # judged before the documents are stored
        row, view = case_flow.record(tx, loaded, ev)
        hashes = _attach(tx, loaded.case, uploads, row)
        row.documents = hashes or None
        tx.session.add(row)
        case = loaded.case
        tell(tx, loaded.committee, case, f"{event}:{row.id}", f"{event.replace('_', ' ')}; now {view.state}",
             [f"{event.replace('_', ' ').capitalize()} was recorded for {case.ref} ({case.title}).",
              f"It is now {view.state}."] + [f"Document SHA-256 {h}" for h in hashes] + _window_lines(view), view=view)
        return case


def _issuance(tx: Tx, project: Loaded, amount: int | None, shares: dict[str, int], period: str | None,
              uploads: list[Upload]) -> Case:
    if project.case.kind != "project":
        raise ServiceError(f"{project.case.ref} is a {project.case.kind}: an issuance is requested for a registered project")
    if amount is None:
        raise ServiceError("issuance-requested needs --amount (tonnes CO2e) and its --share GOV=N for each registry")
    request = IssuanceRequested(tx.now, amount, shares)
    case_flow.check(project, request)  # the core: a registered project, shares adding up to the amount
    for other in tx.session.exec(select(Case).where(Case.project_id == project.case.id)):
        state = view_of(load(tx.session, other), tx.now).state
        if not final("issuance", state):
            raise ServiceError(f"{project.case.ref}: issuance_requested refused: its issuance {other.ref} is still {state}")
    c = project.committee
    start = CaseStart("issuance", c.code, tx.now, None, request, project.case.number)
    try:
        view = evaluate(start, [], committee_rules(c), tx.now)
    except CycleRefused as exc:
        raise ServiceError(f"{project.case.ref}: issuance_requested refused: {exc}") from None
    case = Case(committee_id=c.id, ref=new_ref(tx, c), kind="issuance", title=f"Issuance for {project.case.number} "
                f"{project.case.title}"[:500], proponent=project.case.proponent, created_at=tx.now, created_by=tx.actor,
                project_id=project.case.id, request={"amount": amount, "shares": shares, "period": period},
                state=view.state)
    tx.session.add(case)
    tx.session.flush()
    row = _start_row(tx, case, start)
    row.data = {"amount": amount, "shares": shares, "period": period}
    hashes = _attach(tx, case, uploads, row)
    row.documents = hashes or None
    case_flow.cache(tx, case, view)
    tx.audit("case.issuance_requested", f"case:{case.ref}", {"project": project.case.ref, "number": view.number,
                                                              "amount": amount, "shares": shares, "period": period,
                                                              "documents": hashes}, c.id)
    tell(tx, c, case, "submitted", f"issuance of {amount} tCO2e requested",
         [f"{case.ref}: an issuance of {amount} tCO2e for {project.case.number} ({project.case.title}) was requested"
          + (f" for {period}" if period else "") + ".",
          "Shares: " + ", ".join(f"{g} {n}" for g, n in shares.items())] + _window_lines(view), view=view)
    return case


def show(ctx: ServiceContext, ref: str) -> CaseInfo:
    """A case with where it stands now, its events, documents and the proposals that carried it."""
    with ctx.read() as tx:
        case = find(tx.session, ref)
        loaded = load(tx.session, case)
        events = list(tx.session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
        docs = list(tx.session.exec(select(CaseDocument, Document).join(Document, Document.id == CaseDocument.document_id)
                                    .where(CaseDocument.case_id == case.id).order_by(CaseDocument.id)))
        props = [(p.ref, link.position, link.outcome, p.status) for link, p in tx.session.exec(
            select(CaseItem, Proposal).join(Proposal, Proposal.id == CaseItem.proposal_id)
            .where(CaseItem.case_id == case.id).order_by(CaseItem.id))]
        return CaseInfo(case, loaded.committee, view_of(loaded, tx.now), events, docs, props)


def list_cases(ctx: ServiceContext, slug: str | None = None) -> list[tuple[Case, CaseView]]:
    """Every case (of one committee), oldest first, with where it stands now."""
    with ctx.read() as tx:
        q = select(Case).order_by(Case.id)
        if slug:
            q = q.where(Case.committee_id == get_committee(tx.session, slug).id)
        return [(case, view_of(load(tx.session, case), tx.now)) for case in tx.session.exec(q)]


_VERBS = {"approve": "Approval of", "approve_with_revisions": "Approval with revisions of", "reject": "Rejection of"}
_WHAT = {"methodology": "the proposed methodology", "project": "the registration of the project",
         "issuance": "the issuance notification", "tpe": "the designation of the third-party entity"}


def _item(loaded: Loaded, outcome: str) -> Item:
    case = loaded.case
    kind = item_kind(case)
    about = case.number or case.ref
    if kind == PIN_ITEM:
        verb = "No objection to" if outcome == "approve" else "Objection to"
        title = f"{verb} the planned project (PIN) {case.title} ({case.ref})"[:500]
    else:
        title = f"{_VERBS[outcome]} {_WHAT[case.kind]} {about} {case.title} ({case.ref})"[:500]
    # An approved methodology, a registered project or a PIN's no objection takes its number from
    # the decision's item (services/numbering.item_reference); a rejection or an issuance names the case.
    reference = None if outcome != "reject" and case.kind in ("methodology", "project") else about
    return Item(kind, title, reference)


def propose(ctx: ServiceContext, refs: list[str], actor: str, outcome: str = "approve",
            title: str | None = None) -> Proposal:
    """Draft ONE JC proposal with an item per case (and the cases' documents bound to it); distributed later as any."""
    if not refs:
        raise ServiceError("name at least one case")
    if outcome not in OUTCOMES:
        raise ServiceError(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if len(set(refs)) != len(refs):
        raise ServiceError("a case appears twice")
    with ctx.tx(actor) as tx:
        cases = [_locked(tx, ref) for ref in refs]
        c = cases[0].committee
        items, uploads, lines = [], [], []
        for pos, loaded in enumerate(cases, 1):
            case = loaded.case
            if loaded.committee.id != c.id:
                raise ServiceError(f"{case.ref} belongs to another committee: one proposal is one committee's")
            view = case_flow.check(loaded, ProposalDistributed(tx.now, "(this proposal)"))
            if not allowed(view.kind, view.state, f"decision {outcome}"):
                raise ServiceError(f"{case.ref}: a {case.kind} cannot be decided {outcome}")
            _open_elsewhere(tx, case)
            items.append(_item(loaded, outcome))
            info = view_of(loaded, tx.now)
            hashes, confidential = [], 0
            for cd, doc in tx.session.exec(select(CaseDocument, Document).join(Document, Document.id == CaseDocument.document_id)
                                           .where(CaseDocument.case_id == case.id).order_by(CaseDocument.id)):
                data = documents.content(tx.session, tx.ctx.settings, doc)
                uploads.append(Upload(f"{case.ref}-{cd.name}", data, doc.visibility, (pos,)))
                # The text is published with the decision: it names public documents only. The
                # confidential ones are bound to the version (members see their hashes there).
                if doc.visibility == "public":
                    hashes.append(doc.sha256)
                else:
                    confidential += 1
            lines.append(f"{pos}. {items[-1].title}: {len(info.inputs_counted)} public input(s) counted; public "
                         "documents: " + ("; ".join(hashes) or "none")
                         + (f"; and {confidential} confidential document(s) for the members" if confidential else "")
                         + ".")
        text = "The Joint Committee decides as follows on the cases of the project cycle below.\n\n" + "\n".join(lines)
        name = title or (items[0].title if len(items) == 1 else f"Project cycle: {', '.join(r.strip() for r in refs)}")
        p = create_draft(tx, c, name[:500], text, items, uploads)
        for pos, loaded in enumerate(cases, 1):
            tx.session.add(CaseItem(case_id=loaded.case.id, proposal_id=p.id, position=pos, outcome=outcome))
            tx.audit("case.proposed", f"case:{loaded.case.ref}", {"proposal": p.ref, "item": pos, "outcome": outcome},
                     c.id)
            tell(tx, c, loaded.case, f"proposed:{p.ref}", f"drafted into {p.ref}",
                 [f"{loaded.case.ref} is item {pos} of the draft proposal {p.ref} ({outcome}).",
                  f"Distribute it to the Joint Committee with: jcbot proposal distribute {p.ref}"], proponent=False)
        return p


def _open_elsewhere(tx: Tx, case: Case) -> None:
    q = (select(Proposal).join(CaseItem, CaseItem.proposal_id == Proposal.id)
         .where(CaseItem.case_id == case.id, Proposal.status.in_(("draft", "open", "objected", "referred"))))  # type: ignore[attr-defined]
    if (p := tx.session.exec(q).first()) is not None:
        raise ServiceError(f"{case.ref} is already carried by {p.ref} ({p.status}); withdraw or revise that proposal")


def _check_registry(government: str, email: str, url: str | None) -> None:
    if government not in GOVERNMENTS:
        raise ServiceError(f"government must be one of {', '.join(GOVERNMENTS)}, got {government!r}")
    local, at, domain = (email or "").strip().rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in email.strip()):
        raise ServiceError(f"--email: expected the registry's address local@domain, got {email!r}")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ServiceError(f"--url: expected an http:// or https:// address, got {url!r}")


def set_registry(ctx: ServiceContext, slug: str, government: str, email: str, url: str | None, actor: str) -> Registry:
    """Where a government's registry receives a committee's issuance notifications (replaces what was set)."""
    _check_registry(government, email, url)
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        r = tx.session.exec(select(Registry).where(Registry.committee_id == c.id,
                                                   Registry.government == government)).first()
        r = r or Registry(committee_id=c.id, government=government, email="", updated_at=tx.now)
        r.email, r.url, r.updated_at = email.strip(), url or None, tx.now
        tx.session.add(r)
        tx.session.flush()
        tx.audit("registry.set", f"committee:{slug}", {"government": government, "email": r.email, "url": r.url}, c.id)
        return r
