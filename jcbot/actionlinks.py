"""Signed links for the co-chairs' actions on an escalated proposal.

A link names the proposal version, the co-chair (or alternate) and the action; it opens
a confirmation page whose button POSTs, so a mail scanner following links acts on
nothing. The signature (itsdangerous, salted) makes a link unforgeable; it expires after
ACTION_LINK_DAYS, and an action on a proposal no longer open is refused by the service.
"""
from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ACTIONS = {
    "withdraw": "Withdraw the proposal",
    "refer": "Refer it to a meeting or a conference call",
    "leave_open": "Leave it open (it can still pass by unanimity)",
}
ACTION_LINK_DAYS = 30
_SALT = "jcbot.cochair-action.v1"


class ActionLinkError(ValueError):
    """A link that is forged, damaged or expired."""


@dataclass(frozen=True)
class ActionClaim:
    """What a valid link allows: `member` may take `action` on `ref` version `version`."""

    ref: str
    version: int
    member: str
    action: str


def make_action_token(secret: bytes, ref: str, version: int, member: str, action: str) -> str:
    """The signed token of one action link."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return URLSafeTimedSerializer(secret, salt=_SALT).dumps([ref, version, member, action])


def action_url(public_url: str, secret: bytes, ref: str, version: int, member: str, action: str) -> str:
    """The link to the confirmation page of one action."""
    return f"{public_url.rstrip('/')}/act/{make_action_token(secret, ref, version, member, action)}"


def read_action_token(secret: bytes, token: str) -> ActionClaim:
    """Verify a token; ActionLinkError says why it cannot be used."""
    try:
        ref, version, member, action = URLSafeTimedSerializer(secret, salt=_SALT).loads(
            token, max_age=ACTION_LINK_DAYS * 86400)
    except SignatureExpired:
        raise ActionLinkError(f"this link has expired (links last {ACTION_LINK_DAYS} days)") from None
    except (BadSignature, ValueError, TypeError):
        raise ActionLinkError("this link is not valid (damaged or not issued by jcbot)") from None
    if action not in ACTIONS:
        raise ActionLinkError("this link is not valid (unknown action)")
    return ActionClaim(str(ref), int(version), str(member), str(action))
