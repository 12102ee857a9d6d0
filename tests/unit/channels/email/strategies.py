"""Hypothesis strategies that write received emails: hostile, malformed, or merely unusual.

Each message is bytes as an MTA hands it over: a structure (one text part, HTML,
alternative, mixed, a report), charsets declared right, wrong, unknown or holding NUL,
transfer encodings valid or broken, encoded words with bad base64, address headers
with control characters, non-ASCII local parts and nested comments, and now and then a
header of tens of kilobytes, folded or on one line. `addresses` lets a test mix in the
members' real addresses and reply addresses (a valid token, another member's, made up).
"""
from __future__ import annotations

import base64
import quopri

from hypothesis import strategies as st

ANSWERS = ["Agree", "AFFIRM", "yes", "Object - the baseline is too high", "OBJECT", "no", "Yes, I don't agree",
           "Dear all,", "> quoted line", "On Mon, 2 Mar 2026, jcbot wrote:", "-- ", "Sent from my iPhone", ""]
CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "shift_jis", "utf-16", "x-unknown", "ut\x00f-8", "=?utf-8?b?zz=?=",
            "", "utf-8\r\n", "\"utf-8", "koi8-r"]
STRANGERS = ["attacker@evil.example", "jos\u00e9@example.org", "a\x01b@example.org", "\u00e9\u00e9@\u00e9.example",
             "x\ufffd@example.org", "MAILER-DAEMON@example.org", "jc@jcm-mn.example.org", "", "<>", "a@b@c",
             "((((((((((((a@b.example", "\"quoted local\"@example.org", "a@example.org, b@example.org"]

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
_junk = st.binary(max_size=60)


def _encoded_word(text: str, good: bool) -> str:
    if good:
        return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode() + "?="
    return "=?utf-8?b?" + text.encode("utf-8", "replace").hex()[:20] + "!?="


@st.composite
def header_value(draw, addresses: list[str]) -> str:
    """A value for any header: an address, text, an encoded word, control characters."""
    kind = draw(st.sampled_from(["address", "named", "text", "encoded", "bad-encoded", "ids", "control"]))
    if kind == "address":
        return draw(st.sampled_from(addresses + STRANGERS))
    if kind == "named":
        return f"{draw(_text)} <{draw(st.sampled_from(addresses + STRANGERS))}>"
    if kind == "encoded":
        return _encoded_word(draw(_text), True)
    if kind == "bad-encoded":
        return _encoded_word(draw(_text), False) + " " + draw(st.sampled_from(addresses + STRANGERS))
    if kind == "ids":
        return " ".join(f"<{draw(_text)}@x>" for _ in range(draw(st.integers(0, 4))))
    if kind == "control":
        return draw(st.sampled_from(["<a\r\nb@x>", "<a\x00b@x>", "=?utf-8?q?<a=0D=0Ab@x>?=", "\x7f", "<a\rb@x>"]))
    return draw(_text)


@st.composite
def long_header(draw) -> bytes:
    """A header of a few to a hundred kilobytes: an address list, folded or on one line."""
    name = draw(st.sampled_from([b"From", b"To", b"Cc", b"References", b"Subject", b"X-Long", b"Received"]))
    unit = draw(st.sampled_from([b"a,", b"a ", b"(", b"x@y.example, ", b"<a@b> ", b"=?utf-8?q?a?= ", b"\"\\"]))
    size = draw(st.sampled_from([1_000, 9_000, 30_000, 100_000]))
    joiner = b"\r\n " if draw(st.booleans()) else b""
    chunks = [unit * max(1, 60 // len(unit))] * max(1, size // 60)
    return name + b": " + joiner.join(chunks)


def _body(draw, text: str, charset: str) -> tuple[bytes, bytes]:
    """(headers, body) of one text part in a drawn transfer encoding."""
    try:
        data = text.encode(charset if charset.isprintable() and charset else "utf-8", "replace")
    except (LookupError, UnicodeError, ValueError):
        data = text.encode("utf-8")
    cte = draw(st.sampled_from(["7bit", "8bit", "base64", "bad-base64", "quoted-printable", "x-unknown"]))
    if cte == "base64":
        data = base64.encodebytes(data)
    elif cte == "bad-base64":
        data, cte = b"!!!" + data[:20] + b"=\r\n", "base64"
    elif cte == "quoted-printable":
        data = quopri.encodestring(data)
    return f"Content-Transfer-Encoding: {cte}\r\n".encode(), data


@st.composite
def part(draw, subtype: str) -> bytes:
    charset = draw(st.sampled_from(CHARSETS))
    lines = draw(st.lists(st.one_of(st.sampled_from(ANSWERS), _text), min_size=0, max_size=5))
    text = "\n".join(lines)
    if subtype == "html":
        text = "<html><body><p>" + text.replace("\n", "<br>") + "</p><div><blockquote>quoted</blockquote></div>"
    head, data = _body(draw, text, charset)
    ctype = f"Content-Type: text/{subtype}; charset=\"{charset}\"\r\n".encode("utf-8", "surrogateescape")
    return ctype + head + b"\r\n" + data


@st.composite
def body(draw) -> bytes:
    """Content headers and body: one part, alternative, mixed, a delivery report, or raw bytes."""
    shape = draw(st.sampled_from(["plain", "html", "alternative", "mixed", "report", "nested", "raw", "none"]))
    if shape in ("plain", "html"):
        return draw(part(shape))
    if shape == "raw":
        return b"\r\n" + draw(st.binary(max_size=300))
    if shape == "none":
        return b""
    boundary = draw(st.sampled_from(["b1", "", "=_x\"", "b1\x00"]))
    kind = {"alternative": "alternative", "mixed": "mixed", "report": "report; report-type=delivery-status",
            "nested": "mixed"}[shape]
    parts = [draw(part("plain")), draw(part("html"))]
    if shape == "nested":
        parts.append(b"Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\n" + parts[0])
    if shape == "report":
        parts.append(b"Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; x@y\r\n")
    close = b"" if draw(st.booleans()) else f"\r\n--{boundary}--\r\n".encode("utf-8", "surrogateescape")
    joined = b"".join(f"\r\n--{boundary}\r\n".encode("utf-8", "surrogateescape") + p for p in parts)
    return (f"MIME-Version: 1.0\r\nContent-Type: multipart/{kind}; boundary=\"{boundary}\"\r\n\r\n"
            .encode("utf-8", "surrogateescape") + b"preamble" + joined + close)


@st.composite
def emails(draw, addresses: list[str] | None = None, reply_addresses: list[str] | None = None) -> bytes:
    """One received email as bytes; `addresses` are senders to mix in, `reply_addresses` recipients."""
    senders = addresses or ["member@example.org"]
    recipients = (reply_addresses or []) + ["jc@jcm-mn.example.org", "jc+aaaaaaaaaaaaaaaaaaaaa@jcm-mn.example.org",
                                            "jc+@jcm-mn.example.org", "other@example.org"]
    head = [
        b"From: " + draw(st.one_of(st.sampled_from(senders + STRANGERS), header_value(senders))).encode(
            "utf-8", "surrogateescape"),
        b"To: " + draw(st.one_of(st.sampled_from(recipients), header_value(recipients))).encode("utf-8"),
    ]
    optional = {
        b"Message-ID": header_value([]), b"In-Reply-To": header_value([]), b"References": header_value([]),
        b"Subject": header_value([]), b"Cc": header_value(recipients), b"Auto-Submitted": st.sampled_from(
            ["no", "auto-replied", "auto-generated; x", ""]), b"Return-Path": st.sampled_from(["<>", "<a@b>", ""]),
        b"Date": st.sampled_from(["Mon, 2 Mar 2026 23:59:30 +0800", "yesterday", ""]),
        b"Received": st.sampled_from(["from a by mx.example.org; Mon, 2 Mar 2026 23:59:30 +0800", "(((", ""]),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            head.append(name + b": " + draw(strategy).encode("utf-8", "surrogateescape"))
    if draw(st.integers(0, 9)) == 0:
        head.append(draw(long_header()))
    if draw(st.integers(0, 6)) == 0:
        head.append(draw(_junk).replace(b"\n", b" "))  # a line that is not a header at all
    draw(st.randoms()).shuffle(head)
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    raw = b"\r\n".join(head) + b"\r\n" + draw(body())
    return raw.replace(b"\r\n", newline) if newline == b"\n" else raw
