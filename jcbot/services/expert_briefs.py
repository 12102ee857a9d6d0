"""Sending a distributed version to the experts appointed to its proposal (PROJECT_CYCLE: experts and panels).

Apart from jcbot.services.experts so that distribution (jcbot.services.proposals) can
brief the experts in its own transaction without importing the service that itself
looks proposals up.
"""
from __future__ import annotations

from itsdangerous import URLSafeSerializer
from sqlmodel import Session, select

from jcbot.secret import app_secret
from jcbot.services import documents, notices
from jcbot.services.context import Tx
from jcbot.services.evaluation import Facts
from jcbot.settings import Settings
from jcbot.store.experts import ExpertAppointment

SALT = "jcbot.expert-page.v1"


def recipient(a: ExpertAppointment) -> notices.Recipient:
    """The notice recipient of an appointed expert (`expert-ID`: never a member's handle)."""
    return notices.Recipient(f"expert-{a.id}", a.name, None, a.email)


def page_token(settings: Settings, appointment_id: int) -> str:
    """The signed token of an expert's page (the same every time: it names only the appointment)."""
    return URLSafeSerializer(app_secret(settings), salt=SALT).dumps(["expert", int(appointment_id)])


def page_url(settings: Settings, appointment_id: int) -> str | None:
    """The link to an expert's page, or None without JCBOT_PUBLIC_URL."""
    base = (settings.public_url or "").rstrip("/")
    return f"{base}/expert/{page_token(settings, appointment_id)}" if base else None


def brief_notice(settings: Settings, facts: Facts, a: ExpertAppointment, attached: list[dict]) -> notices.Notice:
    """The notice that sends a distributed version to an expert: text, documents and their page."""
    data = notices.proposal_data(facts) | {
        "expert": {"name": a.name, "panel": a.panel, "page_url": page_url(settings, a.id)},  # type: ignore[arg-type]
        "documents": attached,
    }
    data["recipient"] = {"handle": f"expert-{a.id}", "name": a.name, "member_id": None, "timezone": None}
    return notices.Notice("expert_brief", f"expert_brief:{facts.version.id}:expert-{a.id}", recipient(a), data,
                          facts.committee.id, facts.proposal.id, ("email",))


def documents_of(session: Session, version_id: int) -> list[dict]:
    """A version's documents as notices carry them."""
    return [d.as_dict() for d in documents.of_version(session, version_id)]


def brief_all(tx: Tx, settings: Settings, facts: Facts) -> int:
    """Send a just-distributed version to every expert appointed to its proposal; returns how many."""
    experts = tx.session.exec(select(ExpertAppointment).where(
        ExpertAppointment.proposal_id == facts.proposal.id, ExpertAppointment.revoked_at.is_(None))).all()  # type: ignore[union-attr]
    attached = documents_of(tx.session, facts.version.id) if experts else []  # type: ignore[arg-type]
    for a in experts:
        tx.notify(brief_notice(settings, facts, a, attached))
    return len(experts)
