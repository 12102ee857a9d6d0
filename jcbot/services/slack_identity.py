"""Who a Slack user is to jcbot: the members they are, their roles now, the secretariat.

A Slack user id is mapped to `Member.slack_user_id` (set with the CLI); failing that,
to the members whose email is the one Slack reports for the user, which are then linked
so the next click needs no lookup. Roles are read from the roster at the instant asked.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, or_
from sqlmodel import select

from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.proposals import get_proposal
from jcbot.services.roster import update_member
from jcbot.services.roster_log import load_roster
from jcbot.store.models import AssertionRecord, Committee, Decision, Member, Secretariat


@dataclass(frozen=True)
class Seat:
    """One membership of a Slack user: the committee, the member handle, and the role now."""

    committee_id: int
    slug: str
    committee_name: str
    handle: str
    name: str
    timezone: str | None
    role: str  # cochair, alternate or member


@dataclass(frozen=True)
class Identity:
    """Everything jcbot knows a Slack user to be (possibly nothing)."""

    user_id: str
    seats: tuple[Seat, ...] = ()
    secretariat: tuple[int | None, ...] = ()  # committee ids; None = every committee

    @property
    def known(self) -> bool:
        return bool(self.seats or self.secretariat)

    def seat_in(self, committee_id: int) -> Seat | None:
        """The user's membership of one committee, if any."""
        return next((s for s in self.seats if s.committee_id == committee_id), None)

    def oversees(self, committee_id: int) -> bool:
        """Co-chair, active alternate or secretariat of the committee: sees everything pending."""
        seat = self.seat_in(committee_id)
        if seat is not None and seat.role in ("cochair", "alternate"):
            return True
        return None in self.secretariat or committee_id in self.secretariat


def _linked(session, user_id: str, email: str | None):
    members = list(session.exec(select(Member).where(Member.slack_user_id == user_id, Member.left_at.is_(None))))  # type: ignore[union-attr]
    unlinked = []
    if email:
        # Only members not yet linked to another Slack account: an email match never
        # takes a member away from the user id an operator set.
        unlinked = list(session.exec(select(Member).where(
            func.lower(Member.email) == email.lower(), Member.slack_user_id.is_(None), Member.left_at.is_(None))))  # type: ignore[union-attr]
    cond = Secretariat.slack_user_id == user_id
    if email:
        cond = or_(cond, func.lower(Secretariat.email) == email.lower())
    secretariat = tuple(s.committee_id for s in session.exec(select(Secretariat).where(cond)))
    return members, unlinked, secretariat


def identify(ctx: ServiceContext, user_id: str, email: str | None = None) -> Identity:
    """The members (any committee) and secretariat roles of a Slack user; links email matches."""
    with ctx.tx(f"slack:{user_id}") as tx:
        members, unlinked, secretariat = _linked(tx.session, user_id, email)
        slugs = {c.id: c.slug for c in tx.session.exec(select(Committee))}
    for m in unlinked:
        members.append(update_member(ctx, slugs[m.committee_id], m.handle, f"slack:{user_id}", slack_user_id=user_id))
    with ctx.tx(f"slack:{user_id}") as tx:
        seats = []
        for m in members:
            c = tx.session.get(Committee, m.committee_id)
            roster = load_roster(tx.session, c)  # type: ignore[arg-type]
            spoken = roster.seats_spoken_for(m.handle, tx.now)
            role = "member"
            if spoken:
                role = "cochair" if any(roster.holder(s, tx.now) == m.handle for s in spoken) else "alternate"
            seats.append(Seat(c.id, c.slug, c.name, m.handle, m.name, m.timezone, role))  # type: ignore[union-attr,arg-type]
        return Identity(user_id, tuple(sorted(seats, key=lambda s: s.slug)), secretariat)


def committee_of(ctx: ServiceContext, ref: str) -> int:
    """The committee id of proposal `ref` (ServiceError if unknown)."""
    with ctx.tx("reader") as tx:
        c, _, _ = get_proposal(tx.session, ref)
        return c.id  # type: ignore[return-value]


def repeated_click(ctx: ServiceContext, ref: str, handle: str, position: str, opinion: str | None,
                   window: timedelta = timedelta(seconds=10)) -> AssertionRecord | None:
    """The member's latest Slack assertion on `ref` if it says the same thing and is only seconds old.

    A double click sends two requests with different action ids; recording both would
    put two identical assertions (and two confirmations) in the record.
    """
    with ctx.tx("reader") as tx:
        _, _, v = get_proposal(tx.session, ref)
        last = tx.session.exec(select(AssertionRecord).where(
            AssertionRecord.version_id == v.id, AssertionRecord.member == handle)
            .order_by(AssertionRecord.at.desc(), AssertionRecord.id.desc())).first()  # type: ignore[attr-defined,union-attr]
        if last is None or last.channel != "slack" or last.position != position:
            return None
        if (last.opinion or None) != (opinion.strip() if opinion else None):
            return None
        return last if tx.now - last.recorded_at <= window else None


def recent_decisions(ctx: ServiceContext, committee_ids: list[int] | None, limit: int = 5) -> list[Decision]:
    """The latest adopted decisions of the given committees (None: all), newest first."""
    if committee_ids is not None and not committee_ids:
        return []
    with ctx.tx("reader") as tx:
        q = select(Decision)
        if committee_ids is not None:
            q = q.where(Decision.committee_id.in_(committee_ids))  # type: ignore[attr-defined]
        return list(tx.session.exec(q.order_by(Decision.adopted_at.desc()).limit(limit)))  # type: ignore[attr-defined]


def assertion(ctx: ServiceContext, assertion_id: int) -> AssertionRecord:
    """One recorded assertion by id (to show when it was recorded)."""
    with ctx.tx("reader") as tx:
        row = tx.session.get(AssertionRecord, assertion_id)
        if row is None:
            raise ServiceError(f"no assertion {assertion_id}")
        return row
