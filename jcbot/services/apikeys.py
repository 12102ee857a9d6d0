"""API keys of the integrations calling /api/v1: created once, shown once, stored hashed."""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlmodel import Session, select

from jcbot.services.context import ServiceContext, ServiceError
from jcbot.store.web_models import ApiKey

PREFIX = "jcbot_"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def digest(secret: str) -> str:
    """SHA-256 hex of a random secret (enough: it has 256 bits of entropy, no salt needed)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create(ctx: ServiceContext, name: str, actor: str) -> tuple[ApiKey, str]:
    """A new key for integration `name`; returns the row and the key, which is never stored."""
    if not _NAME.match(name):
        raise ServiceError(f"key name {name!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. registry-sync)")
    key = PREFIX + secrets.token_urlsafe(32)
    with ctx.tx(actor) as tx:
        if tx.session.exec(select(ApiKey).where(ApiKey.name == name)).first() is not None:
            raise ServiceError(f"an API key named {name!r} already exists; revoke it first or choose another name")
        row = ApiKey(name=name, key_hash=digest(key), prefix=key[:12], created_at=tx.now, created_by=actor)
        tx.session.add(row)
        tx.session.flush()
        tx.audit("apikey.created", f"apikey:{name}", {"prefix": row.prefix})
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
