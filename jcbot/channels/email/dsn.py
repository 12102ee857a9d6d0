"""Delivery status notifications read: did the message fail for good, is it only delayed, or neither?

An RFC 3464 report (multipart/report; report-type=delivery-status) says it per recipient
(`Action: failed`, `Status: 5.1.1`, `Diagnostic-Code: smtp; 550 ...`). Some mail systems
still send plain text that only explains and quotes the original; that is read from
the enhanced status codes (RFC 3463) or the usual wording, and the quoted original is
never read (it may hold any text). The reader never raises: a malformed report is
`unknown`, and unknown is only logged.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from jcbot.channels.email.headers import header_value

Verdict = Literal["failed", "delayed", "unknown"]
_TEXT_LIMIT = 64 * 1024
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b([45])\d\d[ -]")
# Where a plain-text bounce starts quoting the original: nothing below is the report.
_ORIGINAL = re.compile(r"^\s*(-{2,}.*(original message|copy of the message|message follows|returned message|"
                       r"undelivered message).*|>.*|Received: .*)$", re.IGNORECASE | re.MULTILINE)
_FAILED_WORDS = re.compile(r"could not be delivered|undeliverable|undelivered mail|delivery (has )?failed|"
                           r"permanent(ly)? (error|fatal|failure)|failure notice|user unknown|no such user|"
                           r"does not exist|mailbox unavailable|returned to sender|delivery status notification \(failure\)",
                           re.IGNORECASE)
_DELAYED_WORDS = re.compile(r"warning only|delayed|not yet been delivered|still (being )?(re)?tr(y|ied|ying)|"
                            r"will (continue to )?(re)?try|delivery status notification \(delay\)", re.IGNORECASE)


@dataclass(frozen=True)
class Report:
    """What a bounce says: the verdict, the recipient and the diagnostic to show."""

    verdict: Verdict
    diagnostic: str
    recipient: str | None = None
    source: Literal["dsn", "text", "none"] = "none"


def _one_line(text: str | None, limit: int = 300) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(block: Message, name: str) -> str | None:
    value = header_value(block, name)
    return value.strip() if value else None


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [b for b in payload if isinstance(b, Message)]
    return []


def _from_dsn(report: Message) -> Report | None:
    status_part = next((p for p in report.walk() if p.get_content_type() == "message/delivery-status"), None)
    if status_part is None:
        return None
    # The first block is about the message, the others one per recipient.
    recipients = [b for b in _blocks(status_part)[1:] if _field(b, "Action") or _field(b, "Status")]
    if not recipients:
        return None  # unreadable fields: the text may still say it
    found: list[tuple[Verdict, str, str | None]] = []
    for block in recipients:
        action = (_field(block, "Action") or "").lower()
        status = _field(block, "Status") or ""
        code = _STATUS.search(status)
        if action == "failed" or (not action and code and code.group(1) == "5"):
            verdict: Verdict = "failed"
        elif action == "delayed" or (not action and code and code.group(1) == "4"):
            verdict = "delayed"
        else:
            continue  # delivered, relayed, expanded: nothing wrong
        recipient = _field(block, "Final-Recipient") or _field(block, "Original-Recipient")
        recipient = recipient.split(";", 1)[-1].strip() if recipient else None
        diagnostic = _field(block, "Diagnostic-Code") or ""
        diagnostic = diagnostic.split(";", 1)[-1].strip() if ";" in diagnostic else diagnostic
        shown = diagnostic if status and status in diagnostic else f"{status} {diagnostic}".strip()
        found.append((verdict, _one_line(shown or action), recipient))
    for wanted in ("failed", "delayed"):
        for verdict, diagnostic, recipient in found:
            if verdict == wanted:
                return Report(verdict, diagnostic, recipient, "dsn")
    return Report("unknown", "a delivery report with no failed or delayed recipient", None, "dsn")


def _text(msg: Message) -> str:
    # The explanation only: text/plain parts outside the returned message (message/rfc822,
    # text/rfc822-headers) and above the line where a plain-text bounce starts quoting it.
    out: list[str] = []
    stack = [msg]
    while stack and sum(map(len, out)) < _TEXT_LIMIT:
        part = stack.pop(0)
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/delivery-status"):
            continue
        if part.is_multipart():
            stack[:0] = [p for p in part.get_payload() if isinstance(p, Message)]
            continue
        if kind == "text/plain":
            try:
                body = part.get_payload(decode=True) or b""
                text = body[:_TEXT_LIMIT].decode(part.get_content_charset() or "utf-8", "replace")
            except (LookupError, ValueError, AssertionError):
                text = str(part.get_payload())[:_TEXT_LIMIT]
            cut = _ORIGINAL.search(text)
            out.append(text[: cut.start()] if cut else text)
    return "\n".join(out)[:_TEXT_LIMIT]


def _line_with(text: str, start: int) -> str:
    # The line holding a status code, with its continuation lines (Postfix indents them).
    begin = text.rfind("\n", 0, start) + 1
    lines = text[begin:].splitlines()
    taken = lines[:1] + [ln for ln in _continuation(lines[1:])]
    return _one_line(" ".join(taken))


def _continuation(lines: list[str]):
    for line in lines:
        if not line[:1].isspace() or not line.strip():
            return
        yield line


def _from_text(msg: Message) -> Report:
    subject = header_value(msg, "Subject") or ""
    text = _text(msg)
    recipient = re.search(r"^\s*<([^<>\s]+@[^<>\s]+)>:", text, re.MULTILINE)
    who = recipient.group(1) if recipient else None
    codes = list(_STATUS.finditer(text))
    permanent = next((c for c in codes if c.group(1) == "5"), None)
    if permanent:
        return Report("failed", _line_with(text, permanent.start()), who, "text")
    transient = next((c for c in codes if c.group(1) == "4"), None)
    if transient:
        return Report("delayed", _line_with(text, transient.start()), who, "text")
    said = _SMTP_REPLY.search(text)
    if said and said.group(1) == "5":
        return Report("failed", _line_with(text, said.start()), who, "text")
    if _DELAYED_WORDS.search(subject) or _DELAYED_WORDS.search(text):
        return Report("delayed", _one_line(subject) or "delivery delayed", who, "text")
    if _FAILED_WORDS.search(subject) or _FAILED_WORDS.search(text):
        first = next((ln for ln in text.splitlines() if _FAILED_WORDS.search(ln)), "") or subject
        return Report("failed", _one_line(first), who, "text")
    return Report("unknown", "no delivery status could be read (an auto-reply?)", who, "none")


def read_report(msg: Message) -> Report:
    """What a message sent to a bounce address says about the delivery; never raises."""
    try:
        if msg.get_content_type() == "multipart/report":
            report = _from_dsn(msg)
            if report is not None:
                return report  # readable fields say it for each recipient, whatever the text says
        return _from_text(msg)
    except Exception as exc:  # noqa: BLE001  (hostile input must never crash the intake)
        return Report("unknown", f"the delivery report could not be read ({type(exc).__name__})")
