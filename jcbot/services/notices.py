"""The notices a change causes, as plain data for the channel renderers.

Keys make notices idempotent: a retried transaction or a second sweep enqueues the
same key, which the outbox records once.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from jcbot.services import documents
from jcbot.services.context import Notice, Recipient
from jcbot.services.outgoing import ANNOUNCE
from jcbot.store.models import Committee, Decision, Meeting

if TYPE_CHECKING:
    from jcbot.services.evaluation import Facts

__all__ = ["Recipient", "proposal_notice", "announcement", "decision_data", "proposal_data", "committee_data",
           "documents_data", "meeting_notice"]


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def committee_data(c: Committee) -> dict[str, Any]:
    """The committee as every notice names it."""
    return {"id": c.id, "slug": c.slug, "name": c.name, "code": c.code, "timezone": c.timezone,
            "host_country": c.host_country}


def proposal_data(facts: Facts, items: list[dict] | None = None) -> dict[str, Any]:
    """What every notice about a proposal carries."""
    c, p, v = facts.committee, facts.proposal, facts.version
    rules = facts.roster.rules
    return {
        "committee": committee_data(c),
        "proposal": {
            "id": p.id, "ref": p.ref, "version": v.version, "version_id": v.id, "title": v.title, "text": v.text,
            "items": items if items is not None else list(facts.items),
            "distributed_at": _iso(v.distributed_at), "deadline": _iso(v.deadline),
            "period_days": rules.electronic_decision.objection_period_days, "status": v.status,
        },
    }


def documents_data(session: Session, version_id: int) -> dict[str, Any]:
    """{"documents": [...]} of a version that carries documents (name, size, type, pages, SHA-256, visibility), else {}.

    Data only: each channel makes the recipient's signed download links and fetches the
    attachments when it renders the notice, so the outbox holds no bearer link and no bytes.
    """
    docs = [a.as_dict() for a in documents.of_version(session, version_id)]
    return {"documents": docs} if docs else {}


def decision_data(d: Decision, meeting: Meeting | None = None) -> dict[str, Any]:
    """A decision as notices and pages show it (with the meeting that took it, if any)."""
    out = {"number": d.number, "basis": d.basis, "adopted_at": _iso(d.adopted_at), "title": d.title,
           "items": d.items}
    if meeting is not None:
        out["meeting"] = {"title": meeting.title, "held_on": meeting.held_on.isoformat(), "place": meeting.place}
    return out


def meeting_notice(c: Committee, d: Decision, meeting: Meeting, to: Recipient, proposal: dict | None) -> Notice:
    """The adoption notice of a decision taken at a meeting, to one member or (ANNOUNCE) the committee channel.

    Shaped like an electronic adoption's, so every channel renders it with the same
    template; `proposal` is the referred proposal it settled, or None.
    """
    data: dict[str, Any] = {"committee": committee_data(c), "proposal": proposal, "decision": decision_data(d, meeting)}
    pid = proposal["id"] if proposal else None
    if to.handle == ANNOUNCE:
        return Notice("announce_adoption", f"announce:adoption:decision:{d.number}", to, data, c.id, pid, ("slack",))
    data["recipient"] = {"handle": to.handle, "name": to.name, "member_id": to.member_id, "timezone": to.timezone}
    return Notice("adoption", f"adoption:decision:{d.number}:{to.handle}", to, data, c.id, pid)


def proposal_notice(kind: str, facts: Facts, to: Recipient, extra: dict | None = None, key_suffix: str = "",
                    channels: tuple[str, ...] = ("email", "slack")) -> Notice:
    """A notice about a proposal version to one recipient."""
    data = proposal_data(facts) | (extra or {})
    data["recipient"] = {"handle": to.handle, "name": to.name, "member_id": to.member_id, "timezone": to.timezone}
    key = f"{kind}:{facts.version.id}:{to.handle}{':' + key_suffix if key_suffix else ''}"
    return Notice(kind, key, to, data, facts.committee.id, facts.proposal.id, channels)


def announcement(kind: str, facts: Facts, extra: dict | None = None) -> Notice:
    """A post in the committee's channel (adoption, withdrawal...)."""
    to = Recipient(ANNOUNCE, facts.committee.name)
    return Notice(f"announce_{kind}", f"announce:{kind}:{facts.version.id}", to,
                  proposal_data(facts) | (extra or {}), facts.committee.id, facts.proposal.id, ("slack",))
