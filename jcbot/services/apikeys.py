"""API keys of the integrations calling /api/v1: created once, shown once, stored hashed.

Each key has scopes (what it may do) and a committee list (where it may do it); a key
made before scopes existed keeps read on every committee.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence

from sqlmodel import Session, select

from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.roster import get_committee
from jcbot.store.web_models import ApiKey

PREFIX = "jcbot_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# read: committees, proposals, decisions; draft: new proposals; distribute: distribute and
# withdraw (on the co-chairs' behalf); record: assertions received by letter.
SCOPES = ("read", "draft", "distribute", "record")


def scopes_of(row: ApiKey) -> tuple[str, ...]:
    """The scopes of a key."""
    return tuple(row.scopes.split())


def committees_of(row: ApiKey) -> tuple[str, ...] | None:
    """The committees a key may act on (slugs), or None for every committee."""
    return tuple(row.committees.split()) if row.committees else None


def refusal(row: ApiKey, scope: str, committee: str | None = None) -> str | None:
    """Why key `row` may not use `scope` (on `committee`), or None if it may."""
    if scope not in scopes_of(row):
        return (f"the API key {row.name!r} lacks the {scope!r} scope (it has: {', '.join(scopes_of(row))}); "
                f"the secretariat can create a key with `jcbot apikey create NAME --scope {scope}`")
    allowed = committees_of(row)
    if committee is not None and allowed is not None and committee not in allowed:
        return (f"the API key {row.name!r} may not act on committee {committee!r} "
                f"(it may act on: {', '.join(allowed)})")
    return None


def digest(secret: str) -> str:
    """SHA-256 hex of a random secret (enough: it has 256 bits of entropy, no salt needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(ctx: ServiceContext, name: str, actor: str, scopes: Sequence[str] = ("read",),
           committees: Sequence[str] | None = None) -> tuple[ApiKey, str]:
    """A new key for integration `name`; returns the row and the key, which is never stored.

    `scopes`: some of SCOPES (default read); `committees`: slugs it may act on (default every committee).
    """
    if not _NAME.match(name):
        raise ServiceError(f"key name {name!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. registry-sync)")
    wrong = [s for s in scopes if s not in SCOPES]
    if wrong or not scopes:
        raise ServiceError(f"scope {(wrong or [''])[0]!r}: a key's scopes are among {', '.join(SCOPES)}")
    scopes = tuple(dict.fromkeys(scopes))
    key = PREFIX + secrets.token_urlsafe(32)
    with ctx.tx(actor) as tx:
        if tx.session.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
            raise ServiceError(f"an API key named {name!r} already exists; revoke it first or choose another name")
        slugs = tuple(dict.fromkeys(get_committee(tx.session, c).slug for c in committees)) if committees else None
        row = ApiKey(name=name, key_hash=digest(key), prefix=key[:12], created_at=tx.now, created_by=actor,
                     scopes=" ".join(scopes), committees=" ".join(slugs) if slugs else None)
        tx.session.add(row)
        tx.session.flush()
        tx.audit("apikey.created", f"apikey:{name}", {"prefix": row.prefix, "scopes": list(scopes),
                                                       "committees": list(slugs) if slugs else None})
        return row, key


def revoke(ctx: ServiceContext, name: str, actor: str) -> ApiKey:
    """Revoke the key of integration `name` (its requests are refused from now on)."""
    with ctx.tx(actor) as tx:
        row = tx.session.exec(select(ApiKey).where(ApiKey.name == name)).first()
        if row is None:
            raise ServiceError(f"no API key named {name!r}")
        if row.revoked_at is not None:
            raise ServiceError(f"the API key {name!r} was already revoked on {row.revoked_at:%Y-%m-%d}")
        row.revoked_at = tx.now
        tx.session.add(row)
        tx.audit("apikey.revoked", f"apikey:{name}", {"prefix": row.prefix})
        return row


def all_keys(ctx: ServiceContext) -> list[ApiKey]:
    """Every key, revoked ones included."""
    with ctx.read() as tx:
        return list(tx.session.exec(select(ApiKey).order_by(ApiKey.name)))


def check(session: Session, key: str | None) -> ApiKey | None:
    """The live key matching `key`, or None."""
    if not key or not key.startswith(PREFIX):
        return None
    row = session.exec(select(ApiKey).where(ApiKey.key_hash == digest(key))).first()
    return row if row is not None and row.revoked_at is None else None
