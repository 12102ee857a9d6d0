"""Idempotency keys of the API: a retried POST acts once, and gets the first answer again.

Per API key, an `Idempotency-Key` is claimed before the call (a row with the request's
hash and no answer yet), then the answer is stored. A retry with the same body gets
that answer; the same key with another body is refused; a retry while the first
request is still being answered is told to wait. If the call fails unexpectedly the
claim is dropped, so the retry acts.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from jcbot.services.context import ServiceContext
from jcbot.store.web_models import ApiIdempotency

MAX_KEY = 255


def request_hash(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path and body."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


@dataclass(frozen=True)
class Claim:
    """What became of claiming an idempotency key."""

    state: Literal["new", "replay", "mismatch", "in_progress"]
    claim_id: int | None = None
    status: int | None = None
    response: Any = None


def claim(ctx: ServiceContext, api_key_id: int, key: str, digest: str, actor: str) -> Claim:
    """Claim `key` for this request, or say what was answered (or is being answered) for it before."""
    try:
        with ctx.tx(actor) as tx:
            row = tx.session.exec(select(ApiIdempotency).where(ApiIdempotency.api_key_id == api_key_id,
                                                               ApiIdempotency.key == key)).first()
            if row is None:
                row = ApiIdempotency(api_key_id=api_key_id, key=key, request_hash=digest, created_at=tx.now)
                tx.session.add(row)
                tx.session.flush()
                return Claim("new", row.id)
            if row.request_hash != digest:
                return Claim("mismatch")
            if row.status is None:
                return Claim("in_progress")
            return Claim("replay", row.id, row.status, json.loads(row.response) if row.response else None)
    except IntegrityError:
        # Two requests with one key at once: the other claimed it first.
        return Claim("in_progress")


def finish(ctx: ServiceContext, claim_id: int, status: int, response: Any, actor: str) -> None:
    """Store the answer of a claimed request, for its retries."""
    with ctx.tx(actor) as tx:
        row = tx.session.get(ApiIdempotency, claim_id)
        if row is not None:
            row.status, row.response = status, json.dumps(response, default=str)
            tx.session.add(row)


def drop(ctx: ServiceContext, claim_id: int, actor: str) -> None:
    """Forget a claim whose request failed unexpectedly (its retry then acts)."""
    with ctx.tx(actor) as tx:
        row = tx.session.get(ApiIdempotency, claim_id)
        if row is not None:
            tx.session.delete(row)
