"""Stable public numbers: proposals, decisions, and JCM references for adopted items."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam
from sqlmodel import Session

from jcbot.store.db import upsert_insert
from jcbot.store.models import Committee, Counter

ITEM_KINDS = (
    "methodology_approval", "tpe_designation", "project_registration",
    "credit_issuance_notification", "pin_no_objection", "rules_revision", "other",
)


def next_value(session: Session, committee_id: int, name: str) -> int:
    """Increment and return a per-committee counter, inside the caller's transaction."""
    # One upsert: it takes the row lock, so two writers cannot read the same value, and
    # a writer racing another's first INSERT waits for it and then increments, where an
    # UPDATE-then-INSERT would fail on the primary key.
    found = session.connection().execute(_increment(upsert_insert(session)), {"cid": committee_id, "counter": name})
    return int(found.scalar_one())


@lru_cache(maxsize=None)
def _increment(insert: Any) -> Any:
    # Built once per dialect, a Core statement: every proposal, decision and numbered item runs it.
    t = Counter.__table__  # type: ignore[attr-defined]
    return (insert(t).values(committee_id=bindparam("cid"), name=bindparam("counter"), value=1)
            .on_conflict_do_update(index_elements=["committee_id", "name"], set_={"value": t.c.value + 1})
            .returning(t.c.value))


def _year(committee: Committee, at: datetime) -> int:
    return at.astimezone(ZoneInfo(committee.timezone)).year


def proposal_ref(session: Session, committee: Committee, at: datetime) -> str:
    """MN-P-2026-003: the n-th proposal drafted in that year (committee's time zone)."""
    year = _year(committee, at)
    return f"{committee.code}-P-{year}-{next_value(session, committee.id, f'proposal-{year}'):03d}"


def decision_number(session: Session, committee: Committee, adopted_at: datetime) -> str:
    """MN-2026-004: the n-th decision adopted in that year (committee's time zone)."""
    year = _year(committee, adopted_at)
    return f"{committee.code}-{year}-{next_value(session, committee.id, f'decision-{year}'):03d}"


def item_reference(session: Session, committee: Committee, kind: str) -> str | None:
    """The JCM's own reference forms: methodologies MN_AM001, projects MN001, a PIN's no objection MN_PIN001; else None."""
    if kind == "methodology_approval":
        return f"{committee.code}_AM{next_value(session, committee.id, 'methodology'):03d}"
    if kind == "pin_no_objection":
        return f"{committee.code}_PIN{next_value(session, committee.id, 'pin'):03d}"
    if kind == "project_registration":
        return f"{committee.code}{next_value(session, committee.id, 'project'):03d}"
    return None
