"""Who a signed-in email address is, and what the dashboard lets them see and do.

Decided afresh at every request from the roster: a co-chair whose term ended, or an
alternate whose designation was revoked, loses the co-chairs' view at that instant.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, select

from jcbot.services.context import Recipient
from jcbot.services.roster_log import load_roster
from jcbot.store.models import Committee, Member, Secretariat

FULL_ROLES = ("secretariat", "cochair")


def normalize_email(email: str) -> str:
    """Addresses compare without case and surrounding spaces."""
    return email.strip().lower()


@dataclass(frozen=True)
class Access:
    """What one person may do in one committee: secretariat, cochair (holder or alternate) or member."""

    committee: Committee
    role: str
    handle: str | None = None  # the member's handle; None for the secretariat
    seats: tuple[str, ...] = ()
    timezone: str | None = None

    @property
    def full(self) -> bool:
        """Sees every open proposal, positions and opinions, and may act on them."""
        return self.role in FULL_ROLES


@dataclass(frozen=True)
class Viewer:
    """A signed-in person and their access, committee by committee."""

    email: str
    name: str
    access: tuple[Access, ...]
    global_secretariat: bool = False  # secretariat of every committee (sees outbox problems of all)

    def in_committee(self, committee_id: int) -> Access | None:
        return next((a for a in self.access if a.committee.id == committee_id), None)


def _members(session: Session, email: str) -> list[Member]:
    q = select(Member).where(func.lower(Member.email) == email, Member.left_at.is_(None))  # type: ignore[union-attr]
    return list(session.exec(q.order_by(Member.id)))


def _secretariat(session: Session, email: str) -> list[Secretariat]:
    return list(session.exec(select(Secretariat).where(func.lower(Secretariat.email) == email).order_by(Secretariat.id)))


def registered(session: Session, email: str) -> list[Recipient]:
    """Who may receive a sign-in link at `email`: active members and the secretariat."""
    email = normalize_email(email)
    out = [Recipient(m.handle, m.name, m.id, m.email, m.slack_user_id, m.timezone) for m in _members(session, email)]
    out += [Recipient(f"secretariat-{s.id}", s.name, None, s.email, s.slack_user_id) for s in _secretariat(session, email)]
    return out


def viewer(session: Session, email: str, now: datetime) -> Viewer | None:
    """The access of `email` at `now`, or None if it belongs to nobody registered any more."""
    email = normalize_email(email)
    committees = {c.id: c for c in session.exec(select(Committee).order_by(Committee.name))}
    by_committee: dict[int, Access] = {}
    names: list[str] = []
    secretariat = _secretariat(session, email)
    everywhere = any(s.committee_id is None for s in secretariat)
    for s in secretariat:
        names.append(s.name)
        for cid in (committees if s.committee_id is None else [s.committee_id]):
            by_committee[cid] = Access(committees[cid], "secretariat")
    for m in _members(session, email):
        c = committees[m.committee_id]
        roster = load_roster(session, c)
        if not roster.is_active(m.handle, now):
            continue
        names.append(m.name)
        seats = roster.seats_spoken_for(m.handle, now)
        # A co-chair acts under their own name, so their role wins over a secretariat entry.
        if seats or m.committee_id not in by_committee:
            by_committee[m.committee_id] = Access(c, "cochair" if seats else "member", m.handle, seats, m.timezone)
    if not by_committee:
        return None
    ordered = tuple(by_committee[cid] for cid in committees if cid in by_committee)
    return Viewer(email, names[0] if names else email, ordered, everywhere)
