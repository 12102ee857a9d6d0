"""Sign-in by email link: request a link, confirm it once, hold a revocable session.

The link goes out as a notice of kind "signin" through the outbox, like every other
message. Whether an address is registered never shows in what the requester sees.
"""
from __future__ import annotations

import re
import secrets
from datetime import timedelta
from urllib.parse import quote

from sqlalchemy import func, update
from sqlmodel import select

from jcbot.services.apikeys import digest
from jcbot.services.viewers import normalize_email, registered
from jcbot.services.context import Notice, ServiceContext
from jcbot.store.web_models import SigninToken, WebSession

LINK_TTL = timedelta(minutes=15)
SESSION_TTL = timedelta(hours=12)
# Unused links one address may hold at once: a stranger typing someone's address
# again and again must not flood their mailbox.
MAX_OPEN_LINKS = 3
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


def valid_email(text: str) -> bool:
    """Looks like an address (the only thing the sign-in form ever tells the requester)."""
    return len(text) <= 320 and bool(_EMAIL.match(text.strip()))


def request_link(ctx: ServiceContext, email: str, actor: str = "web:signin", next_path: str | None = None) -> bool:
    """Send a sign-in link if `email` belongs to a member or the secretariat; True if one was enqueued.

    `next_path` (a path on this site, checked by the caller): where the link brings them after signing in.
    """
    email = normalize_email(email)
    with ctx.read(actor) as rtx:
        if not registered(rtx.session, email):
            return False  # nobody's address: answered from a read, never the write lock
    with ctx.tx(actor) as tx:
        people = registered(tx.session, email)
        if not people:
            return False
        open_links = tx.session.exec(select(func.count()).select_from(SigninToken).where(
            SigninToken.email == email, SigninToken.used_at.is_(None),  # type: ignore[union-attr]
            SigninToken.expires_at > tx.now)).one()
        if open_links >= MAX_OPEN_LINKS:
            return False
        token = secrets.token_urlsafe(32)
        row = SigninToken(token_hash=digest(token), email=email, created_at=tx.now, expires_at=tx.now + LINK_TTL)
        tx.session.add(row)
        tx.session.flush()
        link = f"{ctx.settings.public_url.rstrip('/')}/signin/{token}"
        if next_path:
            link += f"?next={quote(next_path, safe='')}"
        to = people[0]
        minutes = int(LINK_TTL.total_seconds() // 60)
        data = {
            "subject": "Your jcbot sign-in link", "link": link, "expires_at": row.expires_at.isoformat(),
            "minutes": minutes,
            "lines": [f"To sign in to the jcbot dashboard, open this link within {minutes} minutes and confirm:",
                      link, "The link works once. If you did not ask for it, ignore this message."],
            "recipient": {"handle": to.handle, "name": to.name, "member_id": to.member_id, "timezone": to.timezone},
        }
        tx.notify(Notice("signin", f"signin:{row.id}", to, data, channels=("email",)))
        return True


def link_is_open(ctx: ServiceContext, token: str) -> bool:
    """Whether `token` is an unused, unexpired sign-in link (for the confirmation page)."""
    with ctx.read("web:signin") as tx:
        row = tx.session.exec(select(SigninToken).where(SigninToken.token_hash == digest(token))).first()
        return row is not None and row.used_at is None and row.expires_at > tx.now


def confirm_link(ctx: ServiceContext, token: str) -> tuple[str, str] | None:
    """Use the link once and open a session: (email, session id), or None if it is not valid."""
    if not link_is_open(ctx, token):
        return None  # unknown, used or expired: a read says so without taking the write lock
    with ctx.tx("web:signin") as tx:
        # One UPDATE guarded by used_at IS NULL: two clicks at once open one session.
        used = tx.session.execute(update(SigninToken).where(
            SigninToken.token_hash == digest(token), SigninToken.used_at.is_(None),  # type: ignore[union-attr]
            SigninToken.expires_at > tx.now).values(used_at=tx.now))
        if used.rowcount != 1:
            return None
        row = tx.session.exec(select(SigninToken).where(SigninToken.token_hash == digest(token))).one()
        if not registered(tx.session, row.email):
            return None  # removed since the link was sent
        sid = secrets.token_urlsafe(32)
        tx.session.add(WebSession(session_hash=digest(sid), email=row.email, created_at=tx.now,
                                  expires_at=tx.now + SESSION_TTL))
        return row.email, sid


def session_email(ctx: ServiceContext, sid: str) -> str | None:
    """The email of a live session, or None."""
    with ctx.read("web:session") as tx:
        row = tx.session.exec(select(WebSession).where(WebSession.session_hash == digest(sid))).first()
        if row is None or row.revoked_at is not None or row.expires_at <= tx.now:
            return None
        return row.email


def end_session(ctx: ServiceContext, sid: str) -> None:
    """Revoke a session (sign-out)."""
    with ctx.tx("web:session") as tx:
        tx.session.execute(update(WebSession).where(WebSession.session_hash == digest(sid),
                                                    WebSession.revoked_at.is_(None))  # type: ignore[union-attr]
                           .values(revoked_at=tx.now))
