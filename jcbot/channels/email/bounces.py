"""Per-message bounce addresses (VERP): the envelope sender names the outbox message it carried.

A relay that accepts a message and later cannot deliver it sends a delivery status
notification to the envelope sender (MAIL FROM), not to the From header. Each email
jcbot sends has its own envelope sender `<local>+b-<token>@<domain>`, so the bounce says
by its address alone which message failed, whatever the DSN quotes (or does not).

Layout of the token: varint(outbox message id) + 10 bytes (80 bits) of HMAC-SHA256,
lowercase base32 without padding (as reply tokens, so MTAs that lowercase local parts
keep it intact). It is made under its own domain tag: a bounce token never verifies as
a reply token nor the other way round. Ids below 2**32 give at most 24 characters.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence

from jcbot.channels.email.tokens import TokenError, read_varint, recipient_addresses, token_from_address, varint

PREFIX = "b-"
MAC_BYTES = 10
_DOMAIN_TAG = b"jcbot bounce token v1\x00"
_MAX_ID = 2**32 - 1
_TOKEN_RE = re.compile(r"[a-z2-7]{18,24}")
# RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
MAX_LOCAL = 64


class BounceTokenError(ValueError):
    """A bounce token that is malformed, or that this secret did not make."""


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN_TAG + payload, hashlib.sha256).digest()[:MAC_BYTES]


def make_bounce_token(secret: bytes, message_id: int) -> str:
    """Return the bounce token of one outbox message (the same id gives the same token)."""
    if not secret:
        raise ValueError("the token secret is empty; set JCBOT_SECRET")
    if isinstance(message_id, bool) or not isinstance(message_id, int) or not 0 <= message_id <= _MAX_ID:
        raise ValueError(f"message_id must be an integer from 0 to {_MAX_ID}, got {message_id!r}")
    payload = varint(message_id)
    return base64.b32encode(payload + _mac(secret, payload)).decode("ascii").rstrip("=").lower()


def read_bounce_token(secret: bytes, token: str) -> int:
    """Return the outbox message id a token made with this secret names; raise BounceTokenError otherwise."""
    text = token.strip().lower()
    if not _TOKEN_RE.fullmatch(text):
        raise BounceTokenError(f"bounce token {text[:40]!r} is malformed")
    try:
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except binascii.Error:
        raise BounceTokenError(f"bounce token {text!r} is malformed: not valid base32") from None
    try:
        value, pos = read_varint(raw[:-MAC_BYTES], 0)
    except TokenError:
        raise BounceTokenError(f"bounce token {text!r} is malformed") from None
    if value > _MAX_ID or len(raw) - pos != MAC_BYTES:
        raise BounceTokenError(f"bounce token {text!r} is malformed")
    # Recomputing the whole token also refuses non-canonical spellings (over-long varints, spare bits).
    if not hmac.compare_digest(make_bounce_token(secret, value), text):
        raise BounceTokenError("bounce token was not issued by this jcbot (forged, altered, or from another installation)")
    return value


def bounce_address(secret: bytes, local: str, domain: str, message_id: int) -> str | None:
    """The envelope sender `<local>+b-<token>@<domain>` of one outbox message; None if the local part would be too long."""
    address_local = f"{local}+{PREFIX}{make_bounce_token(secret, message_id)}"
    # A local part over 64 octets may be refused by the relay: then the plain sender is used.
    return f"{address_local}@{domain}" if len(address_local.encode("utf-8")) <= MAX_LOCAL else None


def bounce_tokens(msg, local: str, envelope: Iterable[str] = (),
                  recipients: Sequence[str] | None = None) -> tuple[str, ...]:
    """The bounce tokens (without 'b-') in the addresses whose base is `local`: the envelope's, then the headers'.

    `envelope` is the RCPT TO of the delivery (LMTP/SMTP): a mail server delivers a DSN to
    the bounce address it was sent to, which may be named only there (or in Delivered-To or
    X-Original-To, which the headers hold), the report's To being any address at all.
    `recipients`: the message's `recipient_addresses` when already read (a reading's), else read here.
    """
    found: dict[str, None] = {}
    for spec in (*envelope, *(recipient_addresses(msg) if recipients is None else recipients)):
        tag = token_from_address(spec, local)
        if tag and tag.startswith(PREFIX) and len(tag) > len(PREFIX):
            found.setdefault(tag[len(PREFIX):], None)
    return tuple(found)
