"""The public record as data: committees and their adopted decisions, with audit hashes.

Only `Decision` rows are read (adopted decisions); assertions and opinions never reach
the public record, only a tally when the committee's rules publish one. A decision
publishes the public documents of the version it adopted; a confidential document is
never read here, so no page, feed, JSON or static copy can show it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from urllib.parse import quote

from sqlmodel import Session, select

from jcbot.services.roster_log import committee_rules
from jcbot.store.audit import AuditEvent
from jcbot.store.db import iso_utc
from jcbot.store.documents import Document, ProposalDocument
from jcbot.store.models import Committee, Decision, Meeting

ADOPTION_ACTIONS = ("proposal.adopted", "decision.recorded")
KIND_LABELS = {
    "methodology_approval": "Methodology approval", "tpe_designation": "TPE designation",
    "project_registration": "Project registration", "credit_issuance_notification": "Credit issuance notification",
    "pin_no_objection": "No objection to the planned project (PIN)",
    "rules_revision": "Rules revision", "other": "Other",
}


@dataclass(frozen=True)
class Published:
    """One adopted decision as the public record shows it."""

    committee: Committee
    number: str
    title: str
    text: str
    items: tuple[dict, ...]
    basis: str  # no_objection, unanimous, meeting
    basis_text: str
    adopted_at: datetime
    adopted_on: str  # the date in the committee's time zone, e.g. "24 March 2026"
    adopted_local: str  # ISO date in the committee's time zone
    adopted_time: str | None  # 'HH:MM' in the committee's time zone; None for a meeting (a day, not an instant)
    meeting: dict | None
    tally: dict | None
    audit_hash: str | None
    audit_event_id: int | None
    documents: tuple[dict, ...] = ()  # public documents only: name, sha256, size, media_type, pages

    def document_path(self, name: str) -> str:
        """Where a published document is, relative to the site's root (the live site and the static copy)."""
        return f"c/{self.committee.slug}/decisions/{self.number}/documents/{quote(name, safe='')}"

    def as_json(self) -> dict[str, Any]:
        """The decision as the JSON export and the API give it."""
        return {
            "number": self.number, "committee": self.committee.slug, "title": self.title, "text": self.text,
            "items": [dict(i) for i in self.items], "basis": self.basis, "basis_text": self.basis_text,
            "adopted_at": iso_utc(self.adopted_at), "adopted_on": self.adopted_local,
            "timezone": self.committee.timezone, "meeting": self.meeting, "tally": self.tally,
            "audit_hash": self.audit_hash,
            "documents": [dict(d) for d in self.documents],
        }


def committees(session: Session) -> list[Committee]:
    """Every committee, by name."""
    return list(session.exec(select(Committee).order_by(Committee.name, Committee.slug)))


def committee(session: Session, slug: str) -> Committee | None:
    """The committee `slug`, or None."""
    return session.exec(select(Committee).where(Committee.slug == slug)).first()


def ordinal_date(at: datetime, tz: str) -> tuple[str, str, str]:
    """('24 March 2026', '2026-03-24', '00:00'): the day and time of `at` in zone `tz`."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local.day} {local:%B %Y}", local.date().isoformat(), f"{local:%H:%M}"


def basis_text(basis: str, period_days: int, meeting: Meeting | None) -> str:
    """How the record states the basis of a decision."""
    if basis == "no_objection":
        return f"Electronic decision: no objection within {period_days} calendar days"
    if basis == "unanimous":
        return "Electronic decision: unanimous"
    if meeting is not None:
        return f"{meeting.title}, {meeting.place}"
    return "Decision of a meeting"


def adoption_events(session: Session, committee_id: int | None = None) -> dict[str, AuditEvent]:
    """The audit event that recorded each decision's adoption, by decision number."""
    q = select(AuditEvent).where(AuditEvent.action.in_(ADOPTION_ACTIONS))  # type: ignore[attr-defined]
    if committee_id is not None:
        q = q.where(AuditEvent.committee_id == committee_id)
    out: dict[str, AuditEvent] = {}
    for ev in session.exec(q.order_by(AuditEvent.id)):
        number = decision_number_of(ev)
        if number and number not in out:
            out[number] = ev
    return out


def adoption_event(session: Session, committee_id: int, number: str) -> AuditEvent | None:
    """The audit event that recorded the adoption of decision `number`, or None."""
    # Canonical JSON spells the key as "decision":"<number>": a cheap filter, checked after parsing.
    q = select(AuditEvent).where(
        AuditEvent.action.in_(ADOPTION_ACTIONS), AuditEvent.committee_id == committee_id,  # type: ignore[attr-defined]
        (AuditEvent.subject == f"decision:{number}") | AuditEvent.data.contains(f'"decision":"{number}"'),  # type: ignore[attr-defined]
    ).order_by(AuditEvent.id)
    return next((ev for ev in session.exec(q) if decision_number_of(ev) == number), None)


def decision_number_of(ev: AuditEvent) -> str | None:
    """The decision an adoption event is about (None for other events)."""
    if ev.action == "proposal.adopted":
        return json.loads(ev.data).get("decision")
    if ev.action == "decision.recorded" and ev.subject.startswith("decision:"):
        return ev.subject.removeprefix("decision:")
    return None


def public_documents(session: Session, version_ids: list[int]) -> dict[int, tuple[dict, ...]]:
    """The public documents of each version, in order, by version id (confidential ones are not even read)."""
    out: dict[int, list[dict]] = {}
    if not version_ids:
        return {}
    q = (select(ProposalDocument, Document).join(Document, Document.id == ProposalDocument.document_id)
         .where(ProposalDocument.version_id.in_(version_ids), Document.visibility == "public")  # type: ignore[attr-defined]
         .order_by(ProposalDocument.version_id, ProposalDocument.position))
    for pd, doc in session.exec(q):
        out.setdefault(pd.version_id, []).append({"name": pd.name, "sha256": doc.sha256, "size": doc.size,
                                                  "media_type": doc.media_type, "pages": doc.pages})
    return {k: tuple(v) for k, v in out.items()}


def _published(c: Committee, d: Decision, meeting: Meeting | None, period: int, ev: AuditEvent | None,
               docs: tuple[dict, ...] = ()) -> Published:
    on, local, hhmm = ordinal_date(d.adopted_at, c.timezone)
    if meeting is not None:
        # A meeting records a day, not an instant: its own date is the adoption date.
        on, local, hhmm = f"{meeting.held_on.day} {meeting.held_on:%B %Y}", meeting.held_on.isoformat(), None
    return Published(
        committee=c, number=d.number, title=d.title, text=d.text, items=tuple(d.items), basis=d.basis,
        basis_text=basis_text(d.basis, period, meeting), adopted_at=d.adopted_at, adopted_on=on, adopted_local=local,
        adopted_time=hhmm,
        meeting=({"title": meeting.title, "place": meeting.place, "held_on": meeting.held_on.isoformat()}
                 if meeting else None),
        tally=d.tally, audit_hash=d.audit_hash or (ev.hash if ev else None), audit_event_id=ev.id if ev else None,
        documents=docs,
    )


def decisions(session: Session, c: Committee) -> list[Published]:
    """The committee's adopted decisions, newest first."""
    rows = list(session.exec(select(Decision).where(Decision.committee_id == c.id)
                             .order_by(Decision.adopted_at.desc(), Decision.id.desc())))  # type: ignore[attr-defined]
    meetings = {m.id: m for m in session.exec(select(Meeting).where(Meeting.committee_id == c.id))}
    events = adoption_events(session, c.id)
    period = committee_rules(c).electronic_decision.objection_period_days
    docs = public_documents(session, [d.version_id for d in rows if d.version_id is not None])
    return [_published(c, d, meetings.get(d.meeting_id), period, events.get(d.number), docs.get(d.version_id, ()))  # type: ignore[arg-type]
            for d in rows]


def decision(session: Session, c: Committee, number: str) -> Published | None:
    """One adopted decision of `c`, or None."""
    d = session.exec(select(Decision).where(Decision.committee_id == c.id, Decision.number == number)).first()
    if d is None:
        return None
    meeting = session.get(Meeting, d.meeting_id) if d.meeting_id else None
    ev = adoption_event(session, c.id, d.number)
    docs = public_documents(session, [d.version_id]).get(d.version_id, ()) if d.version_id is not None else ()
    return _published(c, d, meeting, committee_rules(c).electronic_decision.objection_period_days, ev, docs)


def chain_head(session: Session) -> tuple[int, str] | None:
    """The newest audit event's position and hash (the head the pages carry)."""
    row = session.exec(select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None
