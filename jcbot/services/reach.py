"""Members jcbot cannot reach: no email and no Slack user id, so every notice to them is lost.

Distribution still counts them (the electorate is the roster's, PROCEDURE 4), so the
gap must be said loudly: in the CLI's output, the audit event, `jcbot pending` and the
dashboard. A co-chair seat whose holder cannot be reached is the secretariat's problem:
without that seat's affirmation nothing is adopted by no objection.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from jcbot.core.roster import GOVERNMENTS
from jcbot.services.context import ServiceContext
from jcbot.services.roster_log import load_roster
from jcbot.store.models import Committee, Member
from jcbot.store.outbox import OutboxMessage


@dataclass(frozen=True)
class Unreachable:
    """A current member with no channel: their handle, name, and the co-chair seat they hold, if any."""

    handle: str
    name: str
    seat: str | None = None

    def text(self) -> str:
        extras = ([self.handle] if self.name != self.handle else []) + \
            ([f"co-chair of the {self.seat} seat"] if self.seat else [])
        return self.name + (f" ({', '.join(extras)})" if extras else "")


def reachable(m: Member) -> bool:
    """Whether a notice can reach the member on some channel."""
    return bool((m.email or "").strip() or (m.slack_user_id or "").strip())


def unreachable(session: Session, c: Committee, at: datetime, among: list[str] | None = None) -> list[Unreachable]:
    """The current members of `c` (or those of `among`) that no notice reaches, co-chairs first."""
    roster = load_roster(session, c)
    seats = {roster.holder(s, at): s for s in GOVERNMENTS}
    handles = set(among if among is not None else roster.active_members(at))
    rows = session.exec(select(Member).where(Member.committee_id == c.id)).all()
    out = [Unreachable(m.handle, m.name, seats.get(m.handle)) for m in rows if m.handle in handles and not reachable(m)]
    return sorted(out, key=lambda u: (u.seat is None, u.handle))


def by_committee(ctx: ServiceContext, slug: str | None = None) -> dict[str, list[Unreachable]]:
    """Committee slug -> its unreachable members (only committees that have some)."""
    with ctx.read("reach") as tx:
        query = select(Committee).order_by(Committee.slug)
        if slug is not None:
            query = query.where(Committee.slug == slug)
        found = {c.slug: unreachable(tx.session, c, tx.now) for c in tx.session.exec(query)}
    return {k: v for k, v in found.items() if v}


def warning(members: list[Unreachable]) -> str:
    """One line saying who cannot be reached, and what to do."""
    seats = [u for u in members if u.seat]
    head = f"jcbot cannot reach {len(members)} member{'s' if len(members) != 1 else ''} (no email, no Slack): "
    tail = "; give them an address with `jcbot member update`"
    if seats:
        tail += (f"; the secretariat must act: the {' and '.join(u.seat for u in seats if u.seat)} co-chair seat "
                 "hears of nothing until then")
    return head + ", ".join(u.text() for u in members) + tail


@dataclass(frozen=True)
class Bounced:
    """A member whose mail bounced after sending: who, which message, and the report's diagnostic."""

    handle: str | None
    address: str
    kind: str
    outbox_id: int
    diagnostic: str

    def text(self) -> str:
        who = f"{self.handle} <{self.address}>" if self.handle else self.address
        return f"{who}: {self.kind} bounced (outbox {self.outbox_id}: {self.diagnostic})"


def bounced(ctx: ServiceContext, slug: str | None = None) -> dict[str, list[Bounced]]:
    """Committee slug -> the members whose distribution mail bounced after sending (only committees with some)."""
    with ctx.read("reach") as tx:
        query = select(Committee).order_by(Committee.slug)
        if slug is not None:
            query = query.where(Committee.slug == slug)
        out: dict[str, list[Bounced]] = {}
        for c in tx.session.exec(query):
            rows = tx.session.exec(select(OutboxMessage).where(
                OutboxMessage.committee_id == c.id, OutboxMessage.status == "bounced",
                OutboxMessage.kind == "distribution").order_by(OutboxMessage.id)).all()
            if not rows:
                continue
            members = {(m.email or "").strip().lower(): m.handle
                       for m in tx.session.exec(select(Member).where(Member.committee_id == c.id))}
            out[c.slug] = [Bounced(members.get(r.recipient.strip().lower()), r.recipient, r.kind, r.id or 0,
                                   (r.last_error or "").removeprefix("bounced after sending: "))
                           for r in rows]
    return out
