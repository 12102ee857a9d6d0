"""Bound the work one received email may cost, before anything parses it.

The standard library's header parsers are slow on long address lists (seconds for a
few kilobytes of "a,a,a,...") and recursive on nested comments; a 1 MB header took
57 s. So the intake never parses more than it reads: a header block over
JCBOT_INBOUND_MAX_HEADER_BYTES is not read at all, each header field is cut to
FIELD_BYTES, and the body after JCBOT_INBOUND_MAX_BODY_BYTES is dropped (the answer is
at the top of a reply). Linear in the size of the message; never raises.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

FIELD_BYTES = 8192  # a header field longer than this is cut (a reply's own fields are far shorter)
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_START = re.compile(rb"\r?\n(?![ \t])")


@dataclass(frozen=True)
class Bounded:
    """The part of a message jcbot reads, and what was too large (None when nothing)."""

    raw: bytes
    problem: str | None = None
    cut: bool = False  # a field or the body was shortened


def _cut_fields(head: bytes) -> tuple[bytes, bool]:
    if len(head) <= FIELD_BYTES:
        return head, False
    starts = [0, *(m.end() for m in _FIELD_START.finditer(head))]
    fields = [head[a:b] for a, b in zip(starts, [*starts[1:], len(head)])]
    long = [f for f in fields if len(f) > FIELD_BYTES]
    if not long:
        return head, False
    kept = []
    for field in fields:
        if len(field) > FIELD_BYTES:
            ending = b"\r\n" if field.endswith(b"\r\n") else b"\n" if field.endswith(b"\n") else b""
            field = field[:FIELD_BYTES].rstrip(b"\r\n") + ending
        kept.append(field)
    return b"".join(kept), True


def bound(raw: bytes, max_header: int, max_body: int) -> Bounded:
    """Return the message cut to the limits, or with `problem` set when its header is too large to read."""
    end = _HEADER_END.search(raw, 0, max_header + 4)
    if end is None and len(raw) > max_header:
        return Bounded(b"", f"the header is larger than {max_header} bytes (JCBOT_INBOUND_MAX_HEADER_BYTES)")
    split = end.start() if end else len(raw)
    head, cut = _cut_fields(raw[:split])
    body = raw[split:]
    if len(body) > max_body:
        body, cut = body[:max_body], True
    return Bounded(head + body, None, cut)
