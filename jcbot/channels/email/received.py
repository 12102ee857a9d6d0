"""When the organisation's mail system first received a reply, read from its own Received headers.

A reply queued by the MTA while jcbot was down reaches the listener late; the member
answered when the MTA took it. Only Received headers that trusted hops prepended are
read, walking down from the top, because every header below the first untrusted one
(and the Date header, and anything else in the message) was written by whoever sent
it. Pure: the message, the trusted host names and `now` come in, a `Dating` goes out.
"""
from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.utils import parsedate_to_datetime

from jcbot.channels.email.headers import header_values

# Clocks of the MTA and of jcbot differ a little: within this, "in the future" is just now.
SKEW = timedelta(minutes=2)
_COMMENT = re.compile(r"\([^()]*\)")
_TOKEN = re.compile(r"[\s()\[\]<>;,]+")


@dataclass(frozen=True)
class Dating:
    """The instant to record a reply at, and why; `at` None means jcbot's own receipt time."""

    at: datetime | None
    header: str | None  # which header dated it, e.g. "Received #1 (by mx.example.org)"
    problem: str | None = None  # why a trusted header could not be used (worth a log line)


@dataclass(frozen=True)
class _Hop:
    by: str | None  # the host that wrote the header, lower-case
    came_from: set[str]  # the names in its `from` clause (HELO and the looked-up name), lower-case
    date: str  # the text after the last ';'


def _hop(value: str) -> _Hop:
    text = " ".join(value.split())  # unfolded
    tokens, _, date = text.rpartition(";")
    bare = tokens
    while _COMMENT.search(bare):  # comments nest: strip innermost first
        bare = _COMMENT.sub(" ", bare)
    words = [w.lower() for w in bare.split()]
    # `from NAME` first: a client that says HELO by must not pass for the `by` clause.
    rest = words[2:] if words[:1] == ["from"] else words
    by = rest[rest.index("by") + 1] if "by" in rest[:-1] else None
    head = re.split(r"\sby\s", " " + tokens, maxsplit=1, flags=re.IGNORECASE)[0]
    came = {t.lower() for t in _TOKEN.split(head) if t} - {"from"} if head.strip().lower().startswith("from") else set()
    return _Hop(by, came, date.strip())


def parse_date(text: str) -> datetime | None:
    """An RFC 5322 date-time (obsolete forms too) as an aware UTC datetime, or None if unreadable."""
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    # -0000 or an unknown zone name: the time is UTC, its local zone unknown (RFC 5322 3.3).
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def out_of_bounds(at: datetime, now: datetime, not_before: datetime | None = None) -> str | None:
    """Why `at` cannot be when a genuine reply was received (None if it can)."""
    if at > now + SKEW:
        return f"{at.isoformat()} is in the future (now {now.isoformat()})"
    if not_before is not None and at < not_before:
        return f"{at.isoformat()} is before the proposal was distributed ({not_before.isoformat()})"
    return None


def trusted_hosts(trusted: Collection[str]) -> set[str]:
    """The host names whose Received headers may date a reply (JCBOT_TRUSTED_RECEIVED_BY), lower-case."""
    return {t.strip().lower() for t in trusted if t.strip()}


def received_instant(msg: Message, trusted: Collection[str], now: datetime) -> Dating:
    """The date of the earliest Received header that a trusted hop added, or a fallback to receipt time.

    Walks from the top and stops at the first header not written `by` a trusted host, at a
    host already seen (a forged copy of a trusted hop's header sits just below it), and
    where the hop above does not name this hop as the host it received from.
    """
    names = trusted_hosts(trusted)
    if not names:
        return Dating(None, None)
    earliest: tuple[int, _Hop] | None = None
    seen: set[str] = set()
    for number, value in enumerate(header_values(msg, "Received"), start=1):
        hop = _hop(value)
        if hop.by not in names or hop.by in seen:
            break
        if earliest is not None and hop.by not in earliest[1].came_from:
            break
        seen.add(hop.by)
        earliest = (number, hop)
    if earliest is None:
        return Dating(None, None, f"no Received header at the top was added by {', '.join(sorted(names))}")
    number, hop = earliest
    header = f"Received #{number} (by {hop.by})"
    at = parse_date(hop.date)
    if at is None:
        return Dating(None, header, f"{header}: unreadable date {hop.date[:80]!r}")
    problem = out_of_bounds(at, now)
    if problem:
        return Dating(None, header, f"{header}: {problem}")
    return Dating(min(at, now), header)
