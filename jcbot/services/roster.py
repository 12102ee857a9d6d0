"""Committees and their rosters: create from a rules file, members, co-chairs, alternates.

Every roster change is replayed through `jcbot.core.roster.Roster`, which refuses what
PROCEDURE.md forbids; only then is it stored (as a `RosterChange`) with its audit event.
"""
from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func
from sqlmodel import Session, select

from jcbot.core.roster import Roster
from jcbot.core.rules import rules_from_text
from jcbot.services.context import ServiceContext, ServiceError, Tx
from jcbot.services.evaluation import settle_committee
from jcbot.services.roster_log import apply_change, load_roster
from jcbot.store.models import Committee, Member, Proposal, RosterChange, Secretariat

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def get_committee(session: Session, slug: str) -> Committee:
    """The committee named `slug`, or a ServiceError listing the known ones."""
    found = session.exec(select(Committee).where(Committee.slug == slug)).first()
    if found is None:
        known = ", ".join(c.slug for c in session.exec(select(Committee).order_by(Committee.slug))) or "none yet"
        raise ServiceError(f"no committee {slug!r} (known: {known})")
    return found


def get_member(session: Session, committee: Committee, handle: str) -> Member:
    """The member `handle` of `committee`, or a ServiceError."""
    found = session.exec(select(Member).where(Member.committee_id == committee.id, Member.handle == handle)).first()
    if found is None:
        raise ServiceError(f"{committee.slug}: no member {handle!r}")
    return found


def _change(tx: Tx, committee: Committee, kind: str, member: str, government: str | None = None, other: str | None = None) -> Roster:
    """Check a change with the core, store it and audit it; returns the new roster."""
    # Lock the committee before reading its roster (PostgreSQL; SQLite's BEGIN IMMEDIATE
    # already serialises writers): two designations at once must not both pass the cap.
    tx.session.exec(select(Committee.id).where(Committee.id == committee.id).with_for_update()).one()
    tx.after_lock()
    roster = apply_change(load_roster(tx.session, committee), kind, member, government, other, tx.now)
    tx.session.add(RosterChange(committee_id=committee.id, at=tx.now, kind=kind, member=member,
                                government=government, other=other))
    data = {"member": member, "government": government, "other": other}
    tx.audit(f"roster.{kind}", f"committee:{committee.slug}", {k: v for k, v in data.items() if v}, committee.id)
    return roster


def create_committee(ctx: ServiceContext, slug: str, rules_text: str, rules_source: str, actor: str) -> Committee:
    """Create a committee from the text of a rules file (validated first)."""
    if not _SLUG.match(slug):
        raise ServiceError(f"committee id {slug!r}: use lower-case letters, digits and '-' (e.g. japan-mongolia)")
    rules = rules_from_text(rules_text, rules_source)
    with ctx.tx(actor) as tx:
        if tx.session.exec(select(Committee).where(Committee.slug == slug)).first():
            raise ServiceError(f"committee {slug!r} already exists")
        # The code prefixes every public number (MN-2026-004, MN-P-2026-001) and proposals
        # are found by reference alone: a shared code would make both ambiguous.
        same_code = tx.session.exec(select(Committee).where(Committee.code == rules.committee.code)).first()
        if same_code:
            raise ServiceError(f"code {rules.committee.code!r} is already used by committee {same_code.slug}; "
                               f"give this committee its own committee.code in {rules_source}")
        c = Committee(slug=slug, name=rules.committee.name, host_country=rules.committee.host_country,
                      code=rules.committee.code, timezone=rules.timezone, rules_source=rules_source,
                      rules_yaml=rules_text, created_at=tx.now)
        tx.session.add(c)
        tx.session.flush()
        tx.audit("committee.created", f"committee:{slug}", {"rules_source": rules_source, "name": c.name,
                                                            "timezone": c.timezone}, c.id)
        return c


def split_address(value: str | None) -> tuple[str | None, str | None]:
    """('Tanaka Hiroshi', 'tanaka@example.jp') from 'Tanaka Hiroshi <tanaka@example.jp>'; a bare address has no name."""
    if value is None:
        return None, None
    m = re.fullmatch(r'\s*"?([^"<>]*?)"?\s*<([^<>]+)>\s*', value)
    if m is None:
        return None, value.strip()
    return (m.group(1).strip() or None), m.group(2).strip()


def _check_contact(handle: str, email: str | None, timezone: str | None) -> None:
    if timezone:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ServiceError(f"{handle}: unknown time zone {timezone!r} (an IANA name such as Asia/Tokyo)") from None
    # A dot in the domain is not required: jcbot's own default sender is jcbot@localhost,
    # and a local mail loop delivers to addresses such as tanaka@localhost.
    if email is not None and not re.match(r"^[^@\s<>]+@[^@\s<>]+$", email):
        raise ServiceError(f"{handle}: {email!r} is not an email address")


def _require_own_email(session: Session, c: Committee, handle: str, email: str | None) -> None:
    """Refuse an email another current member of the committee has: mail to it would reach both, or one."""
    if email is None:
        return
    other = session.exec(select(Member.handle).where(
        Member.committee_id == c.id, Member.handle != handle, Member.left_at.is_(None),  # type: ignore[union-attr]
        func.lower(Member.email) == email.strip().lower())).first()
    if other is not None:
        raise ServiceError(f"{handle}: {email} is already the email of {other} in {c.slug}; each member needs an "
                           "address of their own")


def add_member(ctx: ServiceContext, slug: str, handle: str, government: str, actor: str, *, name: str | None = None,
               email: str | None = None, slack_user_id: str | None = None, timezone: str | None = None) -> Member:
    """Designate a member (the cap is the core's to enforce)."""
    if not _HANDLE.match(handle):
        raise ServiceError(f"member id {handle!r}: use lower-case letters, digits, '.', '_' or '-'")
    display, email = split_address(email)
    name = name or display  # "Tanaka Hiroshi <tanaka@...>": emails greet the member by that name
    _check_contact(handle, email, timezone)
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        _require_own_email(tx.session, c, handle, email)
        _change(tx, c, "add_member", handle, government)
        m = tx.session.exec(select(Member).where(Member.committee_id == c.id, Member.handle == handle)).first()
        if m is None:
            m = Member(committee_id=c.id, handle=handle, name=name or handle, government=government, joined_at=tx.now)
        m.name, m.government, m.joined_at, m.left_at = name or m.name, government, tx.now, None
        m.email = email if email is not None else m.email
        m.slack_user_id = slack_user_id if slack_user_id is not None else m.slack_user_id
        m.timezone = timezone if timezone is not None else m.timezone
        tx.session.add(m)
        tx.session.flush()
        return m


def update_member(ctx: ServiceContext, slug: str, handle: str, actor: str, **contact: str | None) -> Member:
    """Change a member's contact details (email, Slack user id, time zone, name)."""
    allowed = {"name", "email", "slack_user_id", "timezone"}
    unknown = sorted(set(contact) - allowed)
    if unknown:
        raise ServiceError(f"{handle}: cannot update {', '.join(unknown)} (only {', '.join(sorted(allowed))})")
    if contact.get("email") is not None:
        display, contact["email"] = split_address(contact["email"])
        contact["name"] = contact.get("name") or display
    _check_contact(handle, contact.get("email"), contact.get("timezone"))
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        m = get_member(tx.session, c, handle)
        _require_own_email(tx.session, c, handle, contact.get("email"))
        changed = {k: v for k, v in contact.items() if v is not None}
        if not changed:
            raise ServiceError(f"{handle}: nothing to update (give a name, email, Slack user id or time zone)")
        for k, v in changed.items():
            setattr(m, k, v)
        tx.session.add(m)
        tx.audit("member.updated", f"member:{slug}/{handle}", {"fields": sorted(changed)}, m.committee_id)
        return m


def _lock_open_proposals(tx: Tx, c: Committee) -> None:
    """Lock the committee's open proposals a roster change may settle, then read the instant.

    Before _change takes the audit chain's lock: every proposal change takes them in that
    order (proposal, then audit), and the reverse order deadlocks with an assertion on PostgreSQL.
    """
    tx.session.exec(select(Proposal.id).where(Proposal.committee_id == c.id, Proposal.status.in_(  # type: ignore[attr-defined]
        ("open", "objected"))).order_by(Proposal.id).with_for_update()).all()
    tx.after_lock()


def remove_member(ctx: ServiceContext, slug: str, handle: str, actor: str) -> Member:
    """A member leaves the JC."""
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        m = get_member(tx.session, c, handle)
        _lock_open_proposals(tx, c)
        _change(tx, c, "remove_member", handle)
        m.left_at = tx.now
        tx.session.add(m)
        tx.session.flush()
        # A departure can complete unanimity (PROCEDURE 5 (ii)): settle open proposals now.
        settle_committee(tx, c)
        return m


def _seat_change(ctx: ServiceContext, slug: str, actor: str, kind: str, member: str, government: str | None = None,
                 other: str | None = None) -> None:
    # Who speaks for a seat changes: whatever the core then says of an open proposal is
    # recorded in the same transaction, as for every change that can alter a verdict.
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        _lock_open_proposals(tx, c)
        _change(tx, c, kind, member, government, other)
        settle_committee(tx, c)


def elect_cochair(ctx: ServiceContext, slug: str, seat: str, handle: str, actor: str) -> None:
    """Record the election of a co-chair for `seat` (japan or host)."""
    _seat_change(ctx, slug, actor, "elect_cochair", handle, seat)


def set_alternate(ctx: ServiceContext, slug: str, cochair: str, alternate: str, actor: str) -> None:
    """A co-chair designates their alternate."""
    _seat_change(ctx, slug, actor, "designate_alternate", cochair, other=alternate)


def revoke_alternate(ctx: ServiceContext, slug: str, cochair: str, actor: str) -> None:
    """A co-chair revokes their alternate."""
    _seat_change(ctx, slug, actor, "revoke_alternate", cochair)


def add_secretariat(ctx: ServiceContext, name: str, actor: str, *, slug: str | None = None, email: str | None = None,
                    slack_user_id: str | None = None) -> Secretariat:
    """Register someone of the secretariat (of one committee, or of all when `slug` is None)."""
    if not name.strip():
        raise ServiceError("a secretariat member needs a name")
    with ctx.tx(actor) as tx:
        committee_id = get_committee(tx.session, slug).id if slug else None
        s = Secretariat(committee_id=committee_id, name=name.strip(), email=email, slack_user_id=slack_user_id)
        tx.session.add(s)
        tx.session.flush()
        tx.audit("secretariat.added", f"secretariat:{s.id}", {"name": s.name, "email": email, "committee": slug}, committee_id)
        return s
