"""Signed, expiring download links to a committee's documents, one per recipient.

A link names the document (its SHA-256), the person it was made for (`member:ID`,
`secretariat:ID`; `expert:ID` once experts are appointed) and the instant it stops
working. The signature (itsdangerous, its own salt) makes it unforgeable; the expiry is
in the signed payload and checked against a `now` the caller passes, so a test's clock
decides it. Whoever holds a link is served only while the person it names is still
entitled to the document (jcbot.services.downloads): a member who left loses it at once.

The same inputs give the same link: a notice rendered twice (a retry after a crash)
carries the same URLs, because the expiry counts from the notice's distribution, not
from the render.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

from jcbot.services.filetypes import mebibytes
from jcbot.settings import Settings

DEFAULT_LINK_DAYS = 30
_SALT = "jcbot.document-download.v1"
KINDS = ("member", "secretariat", "expert")


class DownloadLinkError(ValueError):
    """A link that is forged, damaged, made for another document, or expired."""


@dataclass(frozen=True)
class DownloadClaim:
    """What a valid link allows: `recipient` may download `sha256` until `expires`."""

    sha256: str
    recipient: str
    expires: datetime


def member_recipient(member_id: int) -> str:
    """The recipient of a link made for a member."""
    return f"member:{int(member_id)}"


def secretariat_recipient(secretariat_id: int) -> str:
    """The recipient of a link made for someone of the secretariat."""
    return f"secretariat:{int(secretariat_id)}"


def recipient_of(handle: str | None, member_id: int | None) -> str | None:
    """The link recipient of a notice's recipient (a member, `secretariat-N` or `expert-N`), None for anyone else."""
    if member_id is not None:
        return member_recipient(member_id)
    for kind in ("secretariat", "expert"):
        number = (handle or "").removeprefix(f"{kind}-")
        if handle and handle.startswith(f"{kind}-") and number.isdigit():
            return f"{kind}:{int(number)}"
    return None


def parse_recipient(recipient: str) -> tuple[str, int]:
    """('member', 12) from 'member:12'; ValueError if it is not a recipient."""
    kind, _, number = recipient.partition(":")
    if kind not in KINDS or not number.isdigit():
        raise ValueError(f"not a download recipient: {recipient!r}")
    return kind, int(number)


def link_days(settings: Settings) -> int:
    """How long a link works (JCBOT_DOCUMENT_LINK_DAYS)."""
    return int(settings.values.get("document_link_days") or DEFAULT_LINK_DAYS)


def expiry(settings: Settings, issued_at: datetime) -> datetime:
    """When a link issued at `issued_at` stops working (whole seconds, UTC)."""
    return (issued_at + timedelta(days=link_days(settings))).astimezone(UTC).replace(microsecond=0)


def make_token(secret: bytes, sha256: str, recipient: str, expires: datetime) -> str:
    """The signed token of one link (deterministic: same inputs, same token)."""
    parse_recipient(recipient)
    return URLSafeSerializer(secret, salt=_SALT).dumps([sha256, recipient, int(expires.timestamp())])


def download_url(settings: Settings, sha256: str, recipient: str, issued_at: datetime, secret: bytes | None = None) -> str:
    """The link for `recipient` to download `sha256`, working for JCBOT_DOCUMENT_LINK_DAYS from `issued_at`."""
    if secret is None:
        from jcbot.secret import app_secret

        secret = app_secret(settings)
    token = make_token(secret, sha256, recipient, expiry(settings, issued_at))
    base = (settings.values.get("public_url") or "").rstrip("/")
    return f"{base}/documents/{sha256}?t={quote(token, safe='')}"


def read_token(secret: bytes, token: str, sha256: str, now: datetime) -> DownloadClaim:
    """Verify a link's token for document `sha256` at `now`; DownloadLinkError says why it cannot be used."""
    try:
        signed_sha, recipient, until = URLSafeSerializer(secret, salt=_SALT).loads(token)
        parse_recipient(recipient)
        expires = datetime.fromtimestamp(int(until), UTC)
    except (BadSignature, ValueError, TypeError, OverflowError):
        raise DownloadLinkError("this link is not valid (damaged or not issued by jcbot)") from None
    if signed_sha != sha256:
        raise DownloadLinkError("this link is not valid for this document")
    if now >= expires:
        raise DownloadLinkError(f"this link expired on {expires:%d %B %Y, %H:%M} UTC; "
                                "ask the secretariat for the document, or sign in to download it")
    return DownloadClaim(sha256, str(recipient), expires)


def issued_at(data: dict[str, Any]) -> datetime | None:
    """The instant a notice's links count from: its proposal's distribution."""
    p = data.get("proposal") or {}
    at = data.get("links_issued_at") or p.get("distributed_at")
    return datetime.fromisoformat(at) if at else None


def with_links(settings: Settings, secret: bytes, data: dict[str, Any], handle: str | None,
               member_id: int | None) -> list[dict[str, Any]]:
    """A notice's documents, each with `size_text`, the recipient's `url` (None if they get no link) and `expires`."""
    docs = list(data.get("documents") or [])
    who, since = recipient_of(handle, member_id), issued_at(data)
    can_link = bool(who and since and settings.values.get("public_url"))
    until = expiry(settings, since) if since else None
    return [d | {"size_text": mebibytes(int(d["size"])), "expires": until,
                 "url": download_url(settings, d["sha256"], who, since, secret) if can_link else None}  # type: ignore[arg-type]
            for d in docs]
