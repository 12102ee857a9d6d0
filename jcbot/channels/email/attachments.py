"""Which of a notice's documents an email attaches, and the signed link of every one.

Public documents are attached, in the proposal's order, while the total stays within
JCBOT_EMAIL_ATTACH_MAX_BYTES; a larger one is a link. A confidential document is never
attached: an attachment is copied into every mailbox, forwarded and archived where no
one can take it back, while a link is checked at each download against the roster (a
member who left is refused), expires, and each use is an audit event.

The choice depends only on the notice's data and the settings, so the same notice
renders the same message; the bytes are fetched, verified, when the email is composed.
"""
from __future__ import annotations

from typing import Any

from jcbot.downloads import with_links
from jcbot.services.context import Recipient
from jcbot.settings import Settings

DEFAULT_ATTACH_MAX_BYTES = 10 << 20


def attach_max_bytes(settings: Settings) -> int:
    """JCBOT_EMAIL_ATTACH_MAX_BYTES (0: attach nothing)."""
    value = settings.values.get("email_attach_max_bytes")
    return DEFAULT_ATTACH_MAX_BYTES if value is None else int(value)


def to_attach(docs: list[dict], max_bytes: int) -> set[str]:
    """The SHA-256s of the public documents attached: in order, while the total fits."""
    chosen, total = set(), 0
    for d in docs:
        if d.get("visibility") == "public" and total + int(d["size"]) <= max_bytes:
            chosen.add(d["sha256"])
            total += int(d["size"])
    return chosen


def shown(settings: Settings, secret: bytes, data: dict[str, Any], to: Recipient,
          attach: bool = True) -> list[dict[str, Any]]:
    """The notice's documents as the email shows them: facts, links (jcbot.downloads.with_links) and `attached`.

    `attach` False (a reminder: the distribution brought the files) shows links only.
    """
    docs = with_links(settings, secret, data, to.handle, to.member_id)
    chosen = to_attach(docs, attach_max_bytes(settings)) if attach else set()
    return [d | {"attached": d["sha256"] in chosen} for d in docs]
