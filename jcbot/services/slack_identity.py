"""Who a Slack user is to jcbot: the members they are, their roles now, the secretariat.

A Slack user id is mapped to `Member.slack_user_id` (set with the CLI); failing that,
to the members whose email is the one Slack reports for the user, which are then linked
so the next click needs no lookup. Roles are read from the roster at the instant asked.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_
from sqlmodel import select

from jcbot.core.roster import Roster
from jcbot.services.context import ServiceContext, Tx
from jcbot.services.roster import update_member
from jcbot.services.roster_log import load_roster
from jcbot.store.models import Committee, Member, Secretariat


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
    """The members (any committee) and secretariat roles of a Slack user; links email matches.

    A read (never the write lock); only linking a member found by email writes, and only
    when there is one to link.
    """
    with ctx.read(f"slack:{user_id}") as tx:
        members, unlinked, secretariat = _linked(tx.session, user_id, email)
        if not unlinked:
            return _identity(tx, user_id, members, secretariat)
        slugs = {c.id: c.slug for c in tx.session.exec(select(Committee))}
    for m in unlinked:
        members.append(update_member(ctx, slugs[m.committee_id], m.handle, f"slack:{user_id}", slack_user_id=user_id))
    with ctx.read(f"slack:{user_id}") as tx:
        return _identity(tx, user_id, members, secretariat)


def identify_linked(ctx: ServiceContext, user_ids: Iterable[str]) -> dict[str, Identity]:
    """`identify` without an email for several users (a burst of clicks), in one read.

    The members linked to each user id and their secretariat roles in two queries, each
    committee's roster once: what `identify(ctx, user_id)` gives each of them.
    """
    users = sorted(set(user_ids))
    with ctx.read("slack:burst") as tx:
        members: dict[str, list[Member]] = {u: [] for u in users}
        for m in tx.session.exec(select(Member).where(Member.slack_user_id.in_(users), Member.left_at.is_(None))  # type: ignore[union-attr]
                                 .order_by(Member.id)):  # type: ignore[arg-type]
            members[m.slack_user_id].append(m)  # type: ignore[index]
        secretariat: dict[str, list[int | None]] = {u: [] for u in users}
        for s in tx.session.exec(select(Secretariat).where(Secretariat.slack_user_id.in_(users))  # type: ignore[union-attr]
                                 .order_by(Secretariat.id)):  # type: ignore[arg-type]
            secretariat[s.slack_user_id].append(s.committee_id)  # type: ignore[index]
        rosters: dict[int, Roster] = {}
        return {u: _identity(tx, u, members[u], tuple(secretariat[u]), rosters) for u in users}


def _identity(tx: Tx, user_id: str, members: list[Member], secretariat: tuple[int | None, ...],
              rosters: dict[int, Roster] | None = None) -> Identity:
    rosters = {} if rosters is None else rosters  # one replay per committee in this read
    seats = []
    for m in members:
        c = tx.session.get(Committee, m.committee_id)
        assert c is not None and c.id is not None
        roster = rosters.get(c.id)
        if roster is None:
            roster = rosters[c.id] = load_roster(tx.session, c)
        spoken = roster.seats_spoken_for(m.handle, tx.now)
        role = "member"
        if spoken:
            role = "cochair" if any(roster.holder(s, tx.now) == m.handle for s in spoken) else "alternate"
        seats.append(Seat(c.id, c.slug, c.name, m.handle, m.name, m.timezone, role))  # type: ignore[union-attr,arg-type]
    return Identity(user_id, tuple(sorted(seats, key=lambda s: s.slug)), secretariat)
