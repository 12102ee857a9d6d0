"""Notices as data: who they go to, which channel reaches them, and the outbox payload they are stored as.

A transaction stores a notice as it is (ARCHITECTURE.md: each channel renders a notice
when it sends it); the dispatcher's senders turn the payload back into a Notice and ask
their renderer for the message. Which channel can reach a recipient is decided here
once, so the outbox never holds a row its channel would have nothing to send for.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ANNOUNCE = "#committee"  # the recipient handle of a post in the committee's Slack channel
# Outcome kinds: direct messages to members, and (as announce_<kind>) posts in the committee channel.
SLACK_OUTCOMES = ("adoption", "withdrawn", "referred", "lapse")
# Kinds the Slack renderer carries; any other kind goes by email only.
SLACK_KINDS = ("distribution", "confirmation", "escalation", "reminder", "seat_reminder", "digest", "duty",
               *SLACK_OUTCOMES)


@dataclass(frozen=True)
class Recipient:
    """Someone a notice goes to, with the addresses the channels need."""

    handle: str
    name: str
    member_id: int | None = None
    email: str | None = None
    slack_user_id: str | None = None
    timezone: str | None = None


@dataclass(frozen=True)
class Notice:
    """A message a change causes, before any channel shapes it.

    `key` makes it idempotent: the same notice enqueued twice is sent once.
    `data` holds plain values only (text, numbers, ISO instants, lists, dicts).
    """

    kind: str  # distribution, confirmation, escalation, adoption, withdrawal, reminder, refusal...
    key: str
    recipient: Recipient
    data: dict[str, Any]
    committee_id: int | None = None
    proposal_id: int | None = None
    channels: tuple[str, ...] = ("email", "slack")


def address(channel: str, notice: Notice, settings: Any) -> str | None:
    """Where `channel` delivers `notice` (an email address, a Slack user or channel id), or None if it cannot.

    The one predicate: Tx.notify enqueues a row only where this gives an address, and
    the renderer, at send time, renders only where it still does.
    """
    r = notice.recipient
    if channel == "email":
        return r.email or None
    if channel == "slack":
        if r.handle == ANNOUNCE:
            if notice.kind.removeprefix("announce_") not in SLACK_OUTCOMES:
                return None
            return (settings.values.get("slack_channel") if settings is not None else None) or None
        return (r.slack_user_id or None) if notice.kind in SLACK_KINDS else None
    if channel == "http":  # a registry's endpoint, where one is configured (services/registries)
        return (notice.data.get("endpoint") or None) if notice.kind == "registry_notification" else None
    return None


_RECIPIENT_FIELDS = tuple(Recipient.__dataclass_fields__)


def to_payload(notice: Notice) -> dict[str, Any]:
    """The outbox payload of a notice: the notice itself, as plain JSON values."""
    # Not dataclasses.asdict, which deep-copies each value: an adoption stores one notice per member.
    recipient = {name: getattr(notice.recipient, name) for name in _RECIPIENT_FIELDS}
    return {"notice": {"kind": notice.kind, "key": notice.key, "recipient": recipient,
                       "data": notice.data, "committee_id": notice.committee_id,
                       "proposal_id": notice.proposal_id, "channels": list(notice.channels)}}


def is_notice(payload: Any) -> bool:
    """Whether an outbox payload is a notice (not a message rendered before dispatch, as older jcbot stored)."""
    return isinstance(payload, dict) and isinstance(payload.get("notice"), dict)


def from_payload(payload: dict[str, Any]) -> Notice:
    """The notice an outbox payload holds (see to_payload); ValueError if it holds none."""
    if not is_notice(payload):
        raise ValueError("the outbox payload holds no notice")
    n = payload["notice"]
    fields = Recipient.__dataclass_fields__
    recipient = Recipient(**{k: v for k, v in (n.get("recipient") or {}).items() if k in fields})
    return Notice(n["kind"], n["key"], recipient, n.get("data") or {}, n.get("committee_id"), n.get("proposal_id"),
                  tuple(n.get("channels") or ("email", "slack")))
