"""Header values that never raise: replies come from anywhere, malformed ones included.

The email package's modern policy parses a header when it is read, and some
malformed values make that parser raise (IndexError, AttributeError) instead of
recording a defect. Intake must read such a message, not crash on it, so every
header read in this package goes through `header_values`. The one header jcbot adds
at hand-over (Date) is here too, shared by the SMTP and the file senders.

`READING` is the policy received mail is parsed with: the modern policy, but each
header value parsed once. The stdlib parses a header again on every read (a reply's
Content-Type about 25 times over, from the parser, get_body and the readers: most
of the email side's CPU); the parsed header is an immutable str, so the one
made from the same name and text is handed back. Same readings, by construction.
"""
from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.headerregistry import BaseHeader
from email.message import Message
from email.policy import EmailPolicy, default
from email.utils import formatdate, getaddresses
from functools import lru_cache

# Address headers are read from their source text: the modern parser takes about a
# millisecond per address (seconds for a long "a,a,a..." list) and recurses on nested
# comments, and only the addresses themselves are ever used, never decoded names.
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to",
                             "x-original-to", "resent-from", "resent-to", "resent-cc", "resent-sender"})
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_LINE_BREAK = re.compile(r"\n|\r")  # what the modern policy removes before parsing a value
_CACHED_CHARS = 2000  # longer values (rare, bounded per field by limits.FIELD_BYTES) are parsed each time


@lru_cache(maxsize=512)
def _parsed(name: str, value: str) -> BaseHeader:
    return default.header_factory(name, value)


class _ReadingPolicy(EmailPolicy):
    """`email.policy.default` whose header objects are made once per (name, value) and reused."""

    def header_fetch_parse(self, name: str, value: str) -> BaseHeader:
        if hasattr(value, "name"):
            return value  # already a header object (set by a program, not parsed)
        value = "".join(_LINE_BREAK.split(value))
        return _parsed(name, value) if len(value) <= _CACHED_CHARS else default.header_factory(name, value)


READING = _ReadingPolicy()


def _decoded(raw: str) -> str:
    try:
        return str(make_header(decode_header(raw)))
    except (ValueError, LookupError, UnicodeError):
        return raw


def _source(value: str) -> str:
    # Undecodable bytes arrive as surrogates; RFC 6532 headers are UTF-8.
    text = _FOLD.sub("", value).strip()
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def header_values(msg: Message, name: str) -> list[str]:
    """Return every value of a header as text, decoding RFC 2047 words, without raising.

    An address header's values are its source text, unfolded (see ADDRESS_HEADERS).
    """
    lowered = name.lower()
    if lowered in ADDRESS_HEADERS:
        return [_text(_source(str(value))) for key, value in msg.raw_items() if key.lower() == lowered]
    try:
        return [_text(str(value)) for value in msg.get_all(name, [])]
    except Exception:  # noqa: BLE001 - the stdlib's header parser fails in many ways
        return [_text(_decoded(str(value))) for key, value in msg.raw_items() if key.lower() == lowered]


def _text(value: str) -> str:
    """The value as encodable text: raw 8-bit bytes in a header reach Python as lone surrogates,
    which no database, log line or terminal accepts; read them as UTF-8, with U+FFFD where they are not."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return value.encode("utf-8", "replace").decode("utf-8")


def header_value(msg: Message, name: str) -> str | None:
    """Return the first value of a header, stripped, or None when absent or blank."""
    values = header_values(msg, name)
    return (values[0].strip() or None) if values else None


def addresses(values: list[str]) -> list[str]:
    """Return the addr-specs of header values, or [] when they cannot be read (never raises).

    A reply's To is read four times over (its recipients, its tokens, a bounce's tokens,
    each token's address): the specs of short values are kept (an LRU, as READING's).
    """
    try:
        if sum(len(value) for value in values) <= _CACHED_CHARS:
            return list(_specs(tuple(values)))
        return [spec for _name, spec in getaddresses(values)]
    except Exception:  # noqa: BLE001 - RecursionError on nested comments, and more (never kept)
        return []


@lru_cache(maxsize=512)
def _specs(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(spec for _name, spec in getaddresses(values))


_HEADER_END = re.compile(r"\r?\n\r?\n")
_DATE = re.compile(r"^date:", re.IGNORECASE | re.MULTILINE)


def with_date(text: str) -> str:
    """The message with a Date header (the sending instant) when it has none."""
    # Notices are rendered inside the transaction that causes them, where no clock is
    # read for headers; the Date is the moment the message actually leaves.
    end = _HEADER_END.search(text)
    head = text[: end.start()] if end else text
    if _DATE.search(head):
        return text
    newline = "\r\n" if "\r\n" in head else "\n"
    return f"Date: {formatdate(usegmt=True)}{newline}{text}"
