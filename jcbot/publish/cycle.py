"""The project cycle's public record as data: a committee's cases, where each stands, and why.

Per committee: approved methodologies, open calls for public inputs with their windows,
registered projects, issuance notifications with their amounts, designated TPEs; and
each case with its PUBLIC documents (SHA-256), its counted public inputs and the adopted
decisions that moved it. Confidential documents are filtered out in the query (never
read), an input's email address is never read into the record, and assertions are not
read at all. Where a case stands is the cycle core's view at the instant of reading.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from jcbot.core.calendar import utc
from jcbot.core.cycle import CaseView, evaluate
from jcbot.publish.record import ordinal_date
from jcbot.services import case_flow, public_inputs
from jcbot.services.roster_log import committee_rules
from jcbot.store.cases import Case, CaseDocument, CaseItem
from jcbot.store.db import iso_utc
from jcbot.store.documents import Document
from jcbot.store.models import Committee, Decision, ProposalVersion

STATE_LABELS = {
    "submitted": "Submitted: completeness check", "returned": "Returned to the proponent",
    "public_inputs": "Open for public inputs", "awaiting_decision": "Awaiting the Joint Committee's decision",
    "approved": "Approved", "rejected": "Rejected", "pin": "Project idea note", "pdd_published": "PDD published: "
    "open for public inputs", "validation": "Validation", "registration_requested": "Registration requested",
    "registered": "Registered", "issuance_requested": "Issuance requested", "notified": "Issuance notified",
    "applied": "Applied", "designated": "Designated",
}
KIND_LABELS = {"methodology": "Methodology", "project": "Project", "issuance": "Issuance", "tpe": "Third-party entity"}


@dataclass(frozen=True)
class PublicCase:
    """One case as the public record shows it."""

    committee: Committee
    ref: str
    kind: str
    title: str
    state: str
    number: str | None
    numbers: tuple[str, ...]
    windows: tuple[dict, ...]   # name, start, end (instants), start_local, end_local, open
    documents: tuple[dict, ...]  # public only: name, sha256, size, media_type, pages
    inputs: tuple[dict, ...]     # counted only: name, affiliation, text, confirmed_at, confirmed_on
    decisions: tuple[dict, ...]  # adopted decisions that carried it: number, title, adopted_on, outcome, item
    request: dict | None         # an issuance: amount, shares, period
    project: str | None          # an issuance: its project's number

    @property
    def path(self) -> str:
        """Where the case page is, relative to the site's root."""
        return case_path(self.committee.slug, self.ref)

    @property
    def open_call(self) -> dict | None:
        """The public-input window open now, if any."""
        return next((w for w in self.windows if w["name"] == "public_inputs" and w["open"]), None)

    def as_json(self) -> dict[str, Any]:
        """The case as the JSON export gives it."""
        return {
            "ref": self.ref, "committee": self.committee.slug, "kind": self.kind, "title": self.title,
            "state": self.state, "number": self.number, "numbers": list(self.numbers),
            "windows": [{"name": w["name"], "start": iso_utc(w["start"]), "end": iso_utc(w["end"]), "open": w["open"]}
                        for w in self.windows],
            "documents": [dict(d) for d in self.documents],
            "public_inputs": [{"name": i["name"], "affiliation": i["affiliation"], "text": i["text"],
                               "confirmed_at": iso_utc(i["confirmed_at"])} for i in self.inputs],
            "decisions": [{k: v for k, v in d.items() if k != "adopted_at"} | {"adopted_at": iso_utc(d["adopted_at"])}
                          for d in self.decisions],
            "request": self.request, "project": self.project,
        }


@dataclass(frozen=True)
class CycleRecord:
    """A committee's cycle record: the lists the JCM's own site shows, and every case."""

    committee: Committee
    cases: tuple[PublicCase, ...]

    def _of(self, kind: str, state: str) -> list[PublicCase]:
        return [c for c in self.cases if c.kind == kind and c.state == state]

    @property
    def methodologies(self) -> list[PublicCase]:
        return self._of("methodology", "approved")

    @property
    def open_calls(self) -> list[PublicCase]:
        return [c for c in self.cases if c.open_call]

    @property
    def projects(self) -> list[PublicCase]:
        return self._of("project", "registered")

    @property
    def issuances(self) -> list[PublicCase]:
        return self._of("issuance", "notified")

    @property
    def tpes(self) -> list[PublicCase]:
        return self._of("tpe", "designated")

    def as_json(self) -> dict[str, Any]:
        refs = lambda cases: [c.ref for c in cases]  # noqa: E731
        return {"approved_methodologies": refs(self.methodologies), "open_calls": refs(self.open_calls),
                "registered_projects": refs(self.projects), "issuance_notifications": refs(self.issuances),
                "designated_tpes": refs(self.tpes), "cases": [c.as_json() for c in self.cases]}


def case_path(slug: str, ref: str) -> str:
    return f"c/{slug}/cases/{ref}/"


def _documents(session: Session, case_id: int) -> tuple[dict, ...]:
    q = (select(CaseDocument, Document).join(Document, Document.id == CaseDocument.document_id)
         .where(CaseDocument.case_id == case_id, Document.visibility == "public").order_by(CaseDocument.id))
    return tuple({"name": cd.name, "sha256": doc.sha256, "size": doc.size, "media_type": doc.media_type,
                  "pages": doc.pages} for cd, doc in session.exec(q))


def _decisions(session: Session, c: Committee, case_id: int) -> tuple[dict, ...]:
    q = (select(CaseItem, Decision).join(ProposalVersion, ProposalVersion.proposal_id == CaseItem.proposal_id)
         .join(Decision, Decision.version_id == ProposalVersion.id)
         .where(CaseItem.case_id == case_id).order_by(Decision.adopted_at, Decision.id))  # type: ignore[arg-type]
    out = []
    for link, d in session.exec(q):
        on, local, _ = ordinal_date(d.adopted_at, c.timezone)
        out.append({"number": d.number, "title": d.title, "adopted_at": d.adopted_at, "adopted_on": on,
                    "adopted_local": local, "outcome": link.outcome, "item": link.position})
    return tuple(out)


def _inputs(session: Session, c: Committee, case_id: int) -> tuple[dict, ...]:
    out = []
    for i in public_inputs.counted(session, case_id):
        on, local, _ = ordinal_date(i.confirmed_at, c.timezone)  # type: ignore[arg-type]
        out.append({"id": i.id, "name": i.name, "affiliation": i.affiliation, "text": i.text,
                    "confirmed_at": i.confirmed_at, "confirmed_on": on, "confirmed_local": local})
    return tuple(out)


def public_case(session: Session, c: Committee, case: Case, now: datetime) -> PublicCase:
    """One case, as the core sees it at `now`, with what of it is public."""
    view = case_flow.view_of(case_flow.load(session, case), now)
    windows = tuple({"name": name, "start": w.start, "end": w.end, "days": w.days, "open": w.contains(view.evaluated_at),
                     "start_local": public_inputs.local_time(w.start, c.timezone),
                     "end_local": public_inputs.local_time(w.end, c.timezone)} for name, w in view.windows.items())
    project = case_flow.project_number(session, case) if case.kind == "issuance" else None
    request = dict(case.request) if case.kind == "issuance" and case.request else None
    return PublicCase(c, case.ref, case.kind, case.title, view.state, view.number, view.numbers, windows,
                      _documents(session, case.id), _inputs(session, c, case.id),  # type: ignore[arg-type]
                      _decisions(session, c, case.id), request, project)  # type: ignore[arg-type]


def cycle_record(session: Session, c: Committee, now: datetime) -> CycleRecord:
    """Every case of `c`, oldest first, as the public record shows them."""
    rows = session.exec(select(Case).where(Case.committee_id == c.id).order_by(Case.id))
    return CycleRecord(c, tuple(public_case(session, c, case, now) for case in rows))


def find_case(session: Session, c: Committee, ref: str, now: datetime) -> PublicCase | None:
    """The case `ref` of `c`, or None."""
    case = session.exec(select(Case).where(Case.committee_id == c.id, Case.ref == ref)).first()
    return public_case(session, c, case, now) if case is not None else None


# ---- the cycle's Atom feed: one entry per change of a case's public standing

@dataclass(frozen=True)
class Change:
    """A case's public standing changed: it entered `state` at `at` (the event's instant)."""

    case: PublicCase
    seq: int            # the event's position in the case (0: the case began); with the ref, the entry's stable id
    at: datetime
    state: str
    number: str | None
    summary: str


def _summary(c: Committee, pc: PublicCase, view: CaseView, at: datetime) -> str:
    label = STATE_LABELS.get(view.state, view.state)
    window = view.windows.get("public_inputs")
    if view.state in ("public_inputs", "pdd_published") and window is not None:
        return f"{label}. Public inputs until {public_inputs.local_time(window.end, c.timezone)}."
    decided = [d for d in pc.decisions if d["adopted_at"] is not None and utc(d["adopted_at"]) <= at]
    by = f" by decision {decided[-1]['number']}" if decided and view.state in (
        "approved", "rejected", "registered", "notified", "designated") else ""
    if view.state == "notified" and pc.request:
        shares = ", ".join(f"{g} registry {n}" for g, n in dict(pc.request.get("shares") or {}).items())
        project = f" for project {pc.project}" if pc.project else ""
        return f"{label}{by}: {pc.request['amount']} t CO2e{project}" + (f" ({shares})." if shares else ".")
    if view.number and view.state in ("approved", "registered", "pin", "submitted", "public_inputs"):
        return f"{label}{by}: {view.number}."
    return f"{label}{by}."


def changes(session: Session, rec: CycleRecord, limit: int = 50) -> list[Change]:
    """Every change of standing of the committee's cases, newest first (the feed's entries).

    The case's stored events are replayed through the core one by one: an entry is a state
    the case entered at an event's instant. Only public things are read: state, number,
    window, the adopted decision's number and an issuance's amounts.
    """
    c = rec.committee
    rules = committee_rules(c)
    out: list[Change] = []
    for pc in rec.cases:
        case = session.exec(select(Case).where(Case.committee_id == c.id, Case.ref == pc.ref)).one()
        loaded = case_flow.load(session, case)
        previous = None
        for seq in range(len(loaded.events) + 1):
            at = loaded.start.at if seq == 0 else loaded.events[seq - 1].at
            view = evaluate(loaded.start, loaded.events[:seq], rules, at)
            if view.state != previous:
                out.append(Change(pc, seq, utc(at), view.state, view.number, _summary(c, pc, view, utc(at))))
            previous = view.state
    out.sort(key=lambda ch: (ch.at, ch.seq), reverse=True)
    return out[:limit]
