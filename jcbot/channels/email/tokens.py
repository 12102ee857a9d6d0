"""Reply tokens: who may answer which proposal version, carried in a plus-address.

A distribution goes out with `Reply-To: <local>+<token>@<domain>`. The token names the
proposal, its version and the member, and carries a truncated HMAC-SHA256 over them,
so a reply can be tied to one member and one version, and nobody can make a token
for someone else without the secret.

Layout: varint(proposal) varint(version) varint(member) + 10 bytes (80 bits) of MAC,
written in lowercase RFC 4648 base32 without padding. Lowercase a-z and 2-7 survive
MTAs that lowercase the local part, and contain none of '+', '=', '.' that would
break the address. Small ids give 21 characters; ids below 16384 give 26.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from jcbot.channels.email.headers import addresses, header_values

MAC_BYTES = 10
# Keeps old tokens from ever verifying under a future layout with the same secret.
_DOMAIN_TAG = b"jcbot reply token v1\x00"
_MAX_ID = 2**32 - 1
_MAX_VARINT_BYTES = 5  # enough for _MAX_ID
_TOKEN_RE = re.compile(r"[a-z2-7]+")
_MIN_LEN, _MAX_LEN = 21, 40  # 3 + 10 bytes and 15 + 10 bytes in base32
RECIPIENT_HEADERS = ("To", "Cc", "Delivered-To", "X-Original-To")


class TokenError(ValueError):
    """A reply token that is malformed, or that this secret did not make."""


@dataclass(frozen=True)
class TokenClaims:
    """What a token says: the proposal, its version and the member it was made for."""

    proposal_id: int
    version: int
    member_id: int


def varint(value: int) -> bytes:
    """A non-negative integer as LEB128 bytes (7 bits a byte, high bit set on all but the last)."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes, start: int) -> tuple[int, int]:
    """(value, next position) of the LEB128 integer at `start`; TokenError if it is cut short or too long."""
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if start + i >= len(data):
            break
        byte = data[start + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, start + i + 1
    raise TokenError("reply token is malformed: its ids are cut short")


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, _DOMAIN_TAG + payload, hashlib.sha256).digest()[:MAC_BYTES]


def make_token(secret: bytes, proposal_id: int, version: int, member_id: int) -> str:
    """Return the reply token of one member for one proposal version."""
    if not secret:
        # An empty key would let anyone compute every member's token.
        raise ValueError("the token secret is empty; set JCBOT_SECRET")
    for name, value in (("proposal_id", proposal_id), ("version", version), ("member_id", member_id)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
            raise ValueError(f"{name} must be an integer from 0 to {_MAX_ID}, got {value!r}")
    payload = varint(proposal_id) + varint(version) + varint(member_id)
    raw = payload + _mac(secret, payload)
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def _decode(token: str) -> tuple[TokenClaims, str]:
    text = token.strip().lower()
    shown = text if len(text) <= 48 else text[:45] + "..."
    if not _TOKEN_RE.fullmatch(text):
        raise TokenError(f"reply token {shown!r} is malformed: only letters a-z and digits 2-7 may appear")
    if not _MIN_LEN <= len(text) <= _MAX_LEN:
        raise TokenError(f"reply token {shown!r} is malformed: {len(text)} characters, expected {_MIN_LEN} to {_MAX_LEN}")
    try:
        raw = base64.b32decode(text.upper() + "=" * (-len(text) % 8))
    except binascii.Error:
        raise TokenError(f"reply token {shown!r} is malformed: not valid base32") from None
    proposal_id, pos = read_varint(raw, 0)
    version, pos = read_varint(raw, pos)
    member_id, pos = read_varint(raw, pos)
    if len(raw) - pos != MAC_BYTES:
        raise TokenError(f"reply token {shown!r} is malformed: wrong length after the ids")
    if max(proposal_id, version, member_id) > _MAX_ID:
        raise TokenError(f"reply token {shown!r} is malformed: an id is out of range")
    return TokenClaims(proposal_id, version, member_id), text


def unverified_claims(token: str) -> TokenClaims:
    """Return the ids a token names WITHOUT checking its MAC (for operators' display only)."""
    return _decode(token)[0]


def read_token(secret: bytes, token: str) -> TokenClaims:
    """Return the claims of a token made with this secret; raise TokenError otherwise."""
    claims, text = _decode(token)
    # Recomputing the whole token (not only the MAC) also refuses non-canonical spellings,
    # e.g. a changed unused bit in the last base32 character or an over-long varint.
    expected = make_token(secret, claims.proposal_id, claims.version, claims.member_id)
    if not hmac.compare_digest(expected, text):
        raise TokenError("reply token was not issued by this jcbot (forged, altered, or from another installation)")
    return claims


def reply_address(local: str, domain: str, token: str) -> str:
    """Return the plus-address `<local>+<token>@<domain>` that carries a token."""
    if not local or "+" in local or "@" in local:
        raise ValueError(f"reply local part must be non-empty without '+' or '@', got {local!r}")
    if not domain or "@" in domain:
        raise ValueError(f"reply domain must be a bare domain, got {domain!r}")
    return f"{local}+{token}@{domain}"


def token_from_address(addr: str, local: str | None = None) -> str | None:
    """Return the plus-address tag of `addr` (lowercased) when its base is `local` (any base if None)."""
    spec = (addresses([addr])[:1] or [""])[0] or addr.strip()
    local_part, at, _domain = spec.rpartition("@")
    if not at or "+" not in local_part:
        return None
    base, _, tag = local_part.partition("+")
    if local is not None and base.lower() != local.lower():
        return None
    return tag.lower() or None


def recipient_addresses(msg: Message) -> tuple[str, ...]:
    """Return the distinct addresses of To, Cc, Delivered-To and X-Original-To, in order."""
    seen: dict[str, None] = {}
    for header in RECIPIENT_HEADERS:
        for spec in addresses(header_values(msg, header)):
            if spec:
                seen.setdefault(spec, None)
    return tuple(seen)


def find_tokens(msg: Message, local: str | None = None) -> tuple[str, ...]:
    """Return the distinct reply-token tags found in the message's recipient addresses."""
    return tokens_in(recipient_addresses(msg), local)


def tokens_in(recipients: Iterable[str], local: str | None = None) -> tuple[str, ...]:
    """`find_tokens` of recipient addresses already read (`recipient_addresses`, a reading's `recipients`)."""
    found: dict[str, None] = {}
    for spec in recipients:
        tag = token_from_address(spec, local)
        if tag:
            found.setdefault(tag, None)
    return tuple(found)
