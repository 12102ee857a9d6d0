"""Experts and panels appointed to a proposal: they read its documents and comment to the co-chairs.

An expert is not a member: no assertion of theirs is ever counted (the intake knows
only members), and their comments go to the co-chairs and their alternates, who decide
what to do with them. An appointment covers every version of the proposal: each
distributed version is sent to the expert with its documents, confidential ones included.
The expert's page (`/expert/TOKEN`) is reached by a signed link that names the
appointment; revoking the appointment ends it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func
from sqlmodel import Session, select

from jcbot.secret import app_secret
from jcbot.services import notices
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.evaluation import cochair_recipients, gather
from jcbot.services.expert_briefs import SALT, brief_notice, documents_of, page_token, page_url, recipient
from jcbot.services.proposals import get_proposal, lock_proposal
from jcbot.services.roster_log import load_roster
from jcbot.settings import Settings
from jcbot.store.experts import ExpertAppointment, ExpertComment
from jcbot.store.models import Committee, Member, Proposal, ProposalVersion

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
MAX_COMMENT = 20_000
__all__ = ["ExpertLinkError", "ExpertPage", "appoint", "comment", "documents_for", "is_appointed", "of_proposal", "page",
           "page_token", "page_url", "recipient", "revoke"]


class ExpertLinkError(ValueError):
    """A link that is forged, damaged, or names an appointment that is not (or no longer) valid."""


@dataclass(frozen=True)
class ExpertPage:
    """What an expert's page shows: the appointment and the proposal's current version."""

    appointment: ExpertAppointment
    committee: Committee
    proposal: Proposal
    version: ProposalVersion
    comments: list[ExpertComment]


def _appointment_id(settings: Settings, token: str) -> int:
    try:
        kind, number = URLSafeSerializer(app_secret(settings), salt=SALT).loads(token)
    except (BadSignature, ValueError, TypeError):
        raise ExpertLinkError("this link is not valid (damaged or not issued by jcbot)") from None
    if kind != "expert" or not isinstance(number, int):
        raise ExpertLinkError("this link is not valid")
    return number


def _active(session: Session, appointment_id: int) -> ExpertAppointment:
    a = session.get(ExpertAppointment, appointment_id)
    if a is None or a.revoked_at is not None:
        raise ExpertLinkError("this appointment has ended: the co-chairs or the secretariat revoked it")
    return a


def appoint(ctx: ServiceContext, ref: str, name: str, email: str, actor: str, panel: str | None = None) -> ExpertAppointment:
    """Appoint an expert (or a member of a panel) to a proposal; a distributed version is sent at once."""
    name, email, panel = name.strip(), email.strip(), (panel or "").strip() or None
    if not name:
        raise ServiceError("an expert needs a name")
    if not _EMAIL.match(email):
        raise ServiceError(f"{email!r} is not an email address")
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        if p.status in ("adopted", "withdrawn", "lapsed"):
            raise ServiceError(f"{ref} is {p.status}: experts are appointed to a proposal still before the JC")
        member = tx.session.exec(select(Member.handle).where(
            Member.committee_id == c.id, func.lower(Member.email) == email.lower(), Member.left_at.is_(None))).first()  # type: ignore[union-attr]
        if member is not None:
            raise ServiceError(f"{email} is the address of member {member}: a member asserts, an expert only comments")
        same = tx.session.exec(select(ExpertAppointment).where(
            ExpertAppointment.proposal_id == p.id, func.lower(ExpertAppointment.email) == email.lower())).first()
        if same is not None and same.revoked_at is None:
            raise ServiceError(f"{email} is already appointed to {ref}")
        if same is not None:  # appointed again after a revocation: the same appointment, active again
            same.revoked_at, same.name, same.panel = None, name, panel
            same.appointed_at, same.appointed_by = tx.now, tx.actor
            a = same
        else:
            a = ExpertAppointment(committee_id=c.id, proposal_id=p.id, name=name, email=email, panel=panel,  # type: ignore[arg-type]
                                  appointed_at=tx.now, appointed_by=tx.actor)
        tx.session.add(a)
        tx.session.flush()
        tx.audit("expert.appointed", f"proposal:{ref}", {"expert": a.id, "name": name, "email": email, "panel": panel},
                 c.id)
        if v.distributed_at is not None and v.status in ("open", "objected"):
            facts = gather(tx.session, c, p, v)
            tx.notify(brief_notice(ctx.settings, facts, a, documents_of(tx.session, v.id)))  # type: ignore[arg-type]
        return a


def revoke(ctx: ServiceContext, ref: str, email: str, actor: str) -> ExpertAppointment:
    """End an appointment: the expert's page and download links stop working."""
    with ctx.tx(actor) as tx:
        c, p, _ = lock_proposal(tx, ref)
        a = tx.session.exec(select(ExpertAppointment).where(
            ExpertAppointment.proposal_id == p.id, func.lower(ExpertAppointment.email) == email.strip().lower(),
            ExpertAppointment.revoked_at.is_(None))).first()  # type: ignore[union-attr]
        if a is None:
            raise ServiceError(f"no expert {email} is appointed to {ref}")
        a.revoked_at = tx.now
        tx.session.add(a)
        tx.audit("expert.revoked", f"proposal:{ref}", {"expert": a.id, "email": a.email}, c.id)
        return a


def of_proposal(ctx: ServiceContext, ref: str) -> list[ExpertAppointment]:
    """Every appointment to a proposal (revoked ones included), in order."""
    with ctx.read() as tx:
        _, p, _ = get_proposal(tx.session, ref)
        return list(tx.session.exec(select(ExpertAppointment).where(ExpertAppointment.proposal_id == p.id)
                                    .order_by(ExpertAppointment.id)))


def documents_for(settings: Settings, session: Session, page: ExpertPage) -> list[dict]:
    """The current version's documents, each with a download link made for the expert (None without a public URL)."""
    from jcbot.downloads import download_url

    v, a = page.version, page.appointment
    since = v.distributed_at or a.appointed_at
    base = bool(settings.values.get("public_url"))
    return [d | {"url": download_url(settings, d["sha256"], f"expert:{a.id}", since) if base else None}
            for d in documents_of(session, v.id)]  # type: ignore[arg-type]


def is_appointed(session: Session, appointment_id: int, proposal_id: int) -> bool:
    """Whether the appointment stands and is to that proposal (download entitlement)."""
    a = session.get(ExpertAppointment, appointment_id)
    return a is not None and a.revoked_at is None and a.proposal_id == proposal_id


def page(ctx: ServiceContext, token: str) -> ExpertPage:
    """The expert's page behind a link (ExpertLinkError if the link or the appointment is not valid)."""
    appointment_id = _appointment_id(ctx.settings, token)
    with ctx.read("web:expert") as tx:
        a = _active(tx.session, appointment_id)
        p = tx.session.get(Proposal, a.proposal_id)
        assert p is not None
        c, p, v = get_proposal(tx.session, p.ref)
        comments = list(tx.session.exec(select(ExpertComment).where(ExpertComment.appointment_id == a.id)
                                        .order_by(ExpertComment.id)))
        return ExpertPage(a, c, p, v, comments)


def comment(ctx: ServiceContext, token: str, text: str) -> ExpertComment:
    """Record an expert's comment on the current version and send it to the co-chairs and alternates."""
    text = text.strip()
    if not text:
        raise ServiceError("write your comment first")
    if len(text) > MAX_COMMENT:
        raise ServiceError(f"a comment is at most {MAX_COMMENT} characters; this one has {len(text)}")
    appointment_id = _appointment_id(ctx.settings, token)
    with ctx.tx(f"expert:{appointment_id}") as tx:
        a = _active(tx.session, appointment_id)
        p = tx.session.get(Proposal, a.proposal_id)
        assert p is not None
        c, p, v = lock_proposal(tx, p.ref)
        if v.distributed_at is None:
            raise ServiceError(f"{p.ref} version {v.version} is not distributed yet: comment once you received it")
        note = ExpertComment(appointment_id=a.id, version=v.version, at=tx.now, text=text)  # type: ignore[arg-type]
        tx.session.add(note)
        tx.session.flush()
        tx.audit("expert.commented", f"proposal:{p.ref}", {"expert": a.id, "version": v.version, "comment": note.id},
                 c.id)
        facts = gather(tx.session, c, p, v)
        said = {"expert": {"name": a.name, "email": a.email, "panel": a.panel},
                "comment": {"text": text, "at": tx.now.isoformat(), "version": v.version}}
        for r in cochair_recipients(tx.session, c, load_roster(tx.session, c), tx.now):
            tx.notify(notices.proposal_notice("expert_comment", facts, r, said, key_suffix=f"comment-{note.id}",
                                              channels=("email",)))
        return note
