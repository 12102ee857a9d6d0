"""Governments' registries: where they are reached, and the issuance notifications sent to them.

PROJECT_CYCLE (Issuance 3): on an adopted issuance item, each government's registry gets a
machine-readable record (committee, project, period, its amount, decision number, audit
hash) by email and, where it has an endpoint, by HTTP POST; both through the outbox,
which retries until the registry acknowledges (a 2xx for HTTP).
"""
from __future__ import annotations

from typing import Any

from sqlmodel import select

from jcbot.services.context import Notice, Recipient, Tx
from jcbot.services.notices import committee_data
from jcbot.store.cases import Case, Registry
from jcbot.store.models import Committee, Decision

KIND = "registry_notification"


def of_committee(tx: Tx, c: Committee) -> list[Registry]:
    """A committee's registries, by government."""
    return list(tx.session.exec(select(Registry).where(Registry.committee_id == c.id).order_by(Registry.government)))


def record(c: Committee, issuance: Case, project: str | None, decision: Decision, government: str) -> dict[str, Any]:
    """The machine-readable notification for one government's registry."""
    request = issuance.request or {}
    return {"type": "jcm.issuance_notification", "committee": {"code": c.code, "slug": c.slug, "name": c.name},
            "project": project, "case": issuance.ref, "period": request.get("period"),
            "government": government, "amount": int((request.get("shares") or {}).get(government, 0)),
            "total_amount": int(request.get("amount", 0)), "unit": "tCO2e",
            "decision": decision.number, "adopted_at": decision.adopted_at.isoformat(),
            "audit_hash": decision.audit_hash}


def notify(tx: Tx, c: Committee, issuance: Case, decision: Decision, project: str | None) -> int:
    """One notification per government registry of the committee (email, and HTTP POST where configured)."""
    sent = 0
    for r in of_committee(tx, c):
        body = record(c, issuance, project, decision, r.government)
        data = {"committee": committee_data(c), "notification": body, "endpoint": r.url,
                "subject": f"[JC-{c.code}] Issuance notification {issuance.ref}: {body['amount']} tCO2e ({decision.number})",
                "recipient": {"handle": f"registry:{r.government}", "name": f"Registry ({r.government})",
                              "member_id": None, "timezone": None}}
        to = Recipient(f"registry:{r.government}", f"Registry ({r.government})", None, r.email)
        key = f"{KIND}:{decision.number}:{issuance.ref}:{r.government}"
        sent += tx.notify(Notice(KIND, key, to, data, c.id, None, ("email", "http")))
        tx.audit("registry.notified", f"case:{issuance.ref}", {"government": r.government, "email": r.email,
                                                                "url": r.url, "notification": body}, c.id)
    return sent
