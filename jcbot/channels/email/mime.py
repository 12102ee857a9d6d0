"""Notice emails written as text directly: the exact bytes EmailMessage would give, without building one.

The email package's modern policy parses every header into a tree and folds it again,
and builds each MIME part as an object: about 7 ms per notice email, most of a send.
This writer produces the same text (the contract: DKIM signatures, threading headers,
the .eml files) from the pieces a notice has:

- header lines are folded by the stdlib itself (`WIRE`), once per distinct value and
  kept (a subject, a committee's From, a member's To and the part headers recur across
  one fan-out and across notices); a value that differs in every message only by an
  alphanumeric token (the Message-ID's digest, the reply token, the boundary seed) is
  folded once in its shape, with the token replaced by a letter repeated to the same
  length, and the token put back, since folding treats every letter and digit alike
  (when the token is not found exactly once in the folded text, the stdlib folds the
  value itself); an address header that the stdlib's parser would not read back as the
  very mailbox given (Python 3.11 folds a long quoted display name without its quotes) is
  folded here instead (`_fold_mailbox`);
- bodies are encoded as `email.contentmanager` encodes them (7bit when the lines are
  ASCII and short, else the shorter of quoted-printable and base64; attachments in
  base64, 76 characters a line);
- the multipart layout is the one `set_content`, `add_alternative` and `add_attachment`
  make, with the boundaries given.

tests/unit/channels/email/test_mime.py compares the result with EmailMessage's and reads
it back with the stdlib's parser.
"""
from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
import threading
from functools import lru_cache, wraps

# Headers as RFC 5322 wants them on the wire: CRLF, RFC 2047 words for non-ASCII, and
# bodies in quoted-printable/base64 so the text stays 7-bit (any SMTP server takes it).
WIRE = SMTP.clone(cte_type="7bit")
CRLF = "\r\n"
_MAX_LINE = WIRE.max_line_length  # 78
_NEWLINES = re.compile(r"\r\n|\r|\n")  # as email.generator writes payload lines
_MARKS = "qzxwvu"  # stand-ins for the varying tokens of one header value


@dataclass(frozen=True)
class Attachment:
    """A file part: its bytes, media type, file name and extra Content-Type parameters."""

    data: bytes
    maintype: str
    subtype: str
    filename: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass
class Draft:
    """What one email holds: header (name, value) pairs in order, the text and HTML bodies, the files.

    A header value is a string, or a (display name, addr-spec) pair for an address. `varying`
    names, per header, the alphanumeric tokens that change from message to message.
    """

    headers: list[tuple[str, str | tuple[str, str]]]
    text: str
    html: str
    attachments: list[Attachment] = field(default_factory=list)
    varying: dict[str, tuple[str, ...]] = field(default_factory=dict)


def locked_cache(maxsize: int):
    """lru_cache, computed under one lock: renders run in threads, and the ten emails of a fan-out
    rendered at once would each fold the same new value (the proposal's subject, its .ics name)."""
    def decorate(fn):
        cached, lock = lru_cache(maxsize=maxsize)(fn), threading.Lock()

        @wraps(fn)
        def call(*args):
            with lock:
                return cached(*args)
        call.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return call
    return decorate


@locked_cache(maxsize=4096)
def _fold(name: str, value: str) -> str:
    if len(value.splitlines()) > 1:  # as EmailMessage refuses it
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    return WIRE.header_factory(name, value).fold(policy=WIRE)


@locked_cache(maxsize=4096)
def _fold_address(name: str, display_name: str, addr_spec: str) -> str:
    folded = WIRE.header_factory(name, Address(display_name, addr_spec=addr_spec)).fold(policy=WIRE)
    if _reads_back(name, folded, display_name, addr_spec):
        return folded
    return _fold_mailbox(name, display_name, addr_spec)


def _reads_back(name: str, folded: str, display_name: str, addr_spec: str) -> bool:
    """Whether the stdlib's parser reads exactly this one mailbox in a folded address header."""
    value = _UNFOLD.sub("", folded[len(name) + 1:]).strip()
    try:
        mailboxes = WIRE.header_factory(name, value).addresses
    except Exception:  # noqa: BLE001 - the parser fails in many ways; then the header is not as meant
        return False
    return [(a.display_name, a.addr_spec) for a in mailboxes] == [(display_name, addr_spec)]


# Python 3.11's folding of an address header whose display name must be quoted (a comma, a
# parenthesis, a quote...) drops the quotes once the header is too long for one line, so
# "Tanaka, Hiroshi (Ministry...)" <t@x> goes out as two addresses (CPython gh-80222, fixed
# upstream in 2025, after 3.11.7); and its own parser reads a stray space between two encoded
# words of a folded non-ASCII name (gh-128110; RFC 2047 6.2 drops it). When the stdlib's folding does
# not read back as the one mailbox it was given, the header is folded here instead: the
# name's printable ASCII runs as quoted-strings, one per line (a fold inside a quoted-string
# is allowed, but email.utils.getaddresses, as DKIM signing reads the From domain, does not
# take one), its other runs as UTF-8 encoded words (RFC 2047: whole words, never inside
# quotes), then the address. Every other header, and every address header the stdlib folds
# right, keeps the stdlib's bytes.
_UNFOLD = re.compile(r"\r\n(?=[ \t])")
_MAX_OCTETS = 998
_EW_BYTES = 45  # base64 of 45 bytes is 60 characters: "=?utf-8?b?...?=" is 72, within RFC 2047's 75


def _fold_mailbox(name: str, display_name: str, addr_spec: str) -> str:
    if not display_name:
        return _fold_pieces(name, [(addr_spec, False)])
    folded = _fold_pieces(name, [*_phrase_pieces(display_name), (f"<{addr_spec}>", False)])
    if all(len(line) <= _MAX_OCTETS for line in folded.split(CRLF)):
        return folded
    # A word longer than RFC 5322's 998 octets a line (a line of 78 is only a SHOULD: a quoted
    # word of 90 letters stays whole): the name in encoded words, which may fold anywhere.
    return _fold_pieces(name, [*((w, False) for w in _encoded_words(display_name)), (f"<{addr_spec}>", False)])


def _fold_pieces(name: str, pieces: list[tuple[str, bool]]) -> str:
    """The header's pieces joined by a space, or by a fold where the line would pass 78; a
    piece marked True is a quoted word that joins the quoted-string before it on the same line."""
    lines, line = [], f"{name}:"
    for text, joins in pieces:
        longer = line[:-1] + " " + text[1:] if joins else line + " " + text
        if len(longer) > _MAX_LINE and line != f"{name}:":
            lines.append(line)
            longer = " " + text
        line = longer
    lines.append(line)
    return CRLF.join(lines) + CRLF


def _phrase_pieces(display_name: str) -> list[tuple[str, bool]]:
    """The display name's words: runs of printable ASCII words as quoted words that join up
    (a second space in a row is kept inside the quotes), the other runs as encoded words."""
    runs: list[tuple[bool, list[str]]] = []  # (printable ASCII, words)
    for word in display_name.split(" "):
        # (text like an encoded word is encoded too: readers decode one even inside quotes)
        plain = all(" " < ch < "\x7f" for ch in word) and "=?" not in word
        if runs and (runs[-1][0] == plain or not word):
            runs[-1][1].append(word)
        else:
            runs.append((plain, [word]))
    pieces: list[tuple[str, bool]] = []
    for plain, words in runs:
        if not plain:
            pieces += [(w, False) for w in _encoded_words(" ".join(words))]
            continue
        spaced, pending = [], ""
        for word in words:
            if word or not spaced:
                spaced.append(pending + word)
                pending = ""
            else:
                pending += " "
        spaced[-1] += pending
        pieces += [('"' + _quoted(w) + '"', i > 0) for i, w in enumerate(spaced)]
    return pieces


def _quoted(word: str) -> str:
    return word.replace("\\", "\\\\").replace('"', '\\"')


def _encoded_words(text: str) -> list[str]:
    """The text as RFC 2047 'B' encoded words of UTF-8, never splitting a character, cut after a
    space where one is near (the space inside the word before: the white space between two
    encoded words is not part of the text)."""
    words, chunk = [], ""
    for ch in text:
        if len((chunk + ch).encode("utf-8")) > _EW_BYTES:
            cut = chunk.rfind(" ") + 1
            if not cut or len((chunk[cut:] + ch).encode("utf-8")) > _EW_BYTES:
                cut = len(chunk)
            words.append(chunk[:cut])
            chunk = chunk[cut:]
        chunk += ch
    words.append(chunk)
    return ["=?utf-8?b?" + binascii.b2a_base64(w.encode("utf-8"), newline=False).decode("ascii") + "?="
            for w in words if w]


def header_line(name: str, value: str | tuple[str, str], varying: tuple[str, ...] = ()) -> str:
    """One header as folded on the wire (with its CRLF), as EmailMessage + WIRE write it."""
    if isinstance(value, tuple):
        return _fold_address(name, *value)
    if not varying:
        return _fold(name, value)
    template, marks = value, []
    for i, token in enumerate(varying[: len(_MARKS)]):
        mark = _MARKS[i] * len(token)
        if not (token.isascii() and token.isalnum()) or template.count(token) != 1 or mark in template:
            return _fold(name, value)
        template = template.replace(token, mark)
        marks.append((mark, token))
    folded = _fold(name, template)
    for mark, token in marks:
        if folded.count(mark) != 1:
            return _fold(name, value)
        folded = folded.replace(mark, token)
    return folded


@locked_cache(maxsize=64)
def _text_headers(subtype: str, cte: str, top: bool) -> str:
    """The headers of a text part with this encoding (`top`: set on the message itself, no MIME-Version)."""
    part = EmailMessage(policy=WIRE)
    part.set_content("x", subtype=subtype, cte=cte)
    return "".join(WIRE.fold(h, v) for h, v in part.raw_items() if not (top and h == "MIME-Version"))


_ALNUM = re.compile(r"[A-Za-z0-9]")


def _file_headers(maintype: str, subtype: str, filename: str, params: tuple[tuple[str, str], ...]) -> str:
    """The headers of a file part, made by the stdlib once per shape of file name.

    Each proposal's .ics has a name of its own ("JM-P-2026-007-deadline.ics"): the headers
    are folded for the name with its ASCII letters and digits as "x" (folding and quoting
    treat them all alike) and the name put back where the stdlib wrote it whole, quoted;
    when it did not (a long or non-ASCII name, in RFC 2231 pieces), for the name itself.
    """
    shape = _ALNUM.sub("x", filename)
    if shape != filename:
        quoted = f'filename="{shape}"'
        folded = _file_headers_of(maintype, subtype, shape, params)
        if folded.count(quoted) == 1 and folded.count(shape) == 1:
            return folded.replace(quoted, f'filename="{filename}"')
    return _file_headers_of(maintype, subtype, filename, params)


@locked_cache(maxsize=1024)
def _file_headers_of(maintype: str, subtype: str, filename: str, params: tuple[tuple[str, str], ...]) -> str:
    # The headers do not depend on the bytes: made once per file name and type, by the stdlib.
    part = EmailMessage(policy=WIRE)
    part.set_content(b"", maintype=maintype, subtype=subtype, filename=filename, params=dict(params) or None)
    return "".join(WIRE.fold(h, v) for h, v in part.raw_items())


def text_body(text: str) -> tuple[str, str]:
    """(Content-Transfer-Encoding, payload) of a UTF-8 text part, as email.contentmanager chooses them."""
    lines = text.encode("utf-8").splitlines()
    if max((len(x) for x in lines), default=0) <= _MAX_LINE:
        try:
            return "7bit", (b"\n".join(lines) + b"\n").decode("ascii")
        except UnicodeDecodeError:
            pass
    sniff = b"\r\n".join(lines[:10]) + b"\r\n"
    sniff_qp = quoted_printable(sniff.decode("latin-1"))
    if len(sniff_qp) > len(binascii.b2a_base64(sniff)):
        return "base64", base64_body(b"\r\n".join(lines) + b"\r\n")
    if len(lines) <= 10:
        return "quoted-printable", sniff_qp
    return "quoted-printable", quoted_printable((b"\n".join(lines) + b"\n").decode("latin-1"))


# What quoted-printable keeps as it is in a body: printable ASCII but "=", tab, and the line breaks.
_QP_ESCAPED = re.compile(r"[^\t\n\r -<>-~]+")
_QP_KEPT = bytes(range(0x20, 0x7F)).replace(b"=", b"") + b"\t\n\r"


def _qp_escape(run: re.Match) -> str:
    return "".join(f"={ord(ch):02X}" for ch in run.group())


def quoted_printable(body: str, maxlinelen: int = _MAX_LINE) -> str:
    """quoprimime.body_encode(body, maxlinelen): the same text, lines ending in "\n".

    The stdlib maps every character through a 256-entry table (most of a notice's
    encoding time); here only the runs that need escaping are rewritten, and a line short
    enough and not ending in white space is kept whole. Lines longer than `maxlinelen` get
    soft breaks ("=" at maxlinelen - 1 characters, never inside an "=XX"), and white space
    ending a line is escaped or kept before a soft break as the stdlib does (test_mime.py
    compares the two on random text).
    """
    if not body:
        return body
    if body.isascii() and not body.encode("ascii").translate(None, _QP_KEPT).strip(b"="):
        body = body.replace("=", "=3D")  # only "=" to escape (a notice's HTML): no per-character scan
    else:
        body = _QP_ESCAPED.sub(_qp_escape, body)
    width = maxlinelen - 1  # room for the "=" of a soft break
    out: list[str] = []
    for line in body.splitlines():
        n = len(line)
        if n <= maxlinelen and line[-1:] not in (" ", "\t"):
            out.append(line)
            continue
        start, last = 0, n - 1 - maxlinelen
        while start <= last:
            stop = start + width
            if line[stop - 2] == "=":  # an "=XX" would be cut: break before it
                out.append(line[start:stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                out.append(line[start:stop])
                start = stop - 1
            else:
                out.append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":
            room, blank = start - last, line[-1]
            if room >= 3:
                tail = f"={ord(blank):02X}"
            elif room == 2:
                tail = blank + "=\n"
            else:
                tail = f"=\n={ord(blank):02X}"
            out.append(line[start:-1] + tail)
        else:
            out.append(line[start:])
    if body[-1] in "\r\n":
        out.append("")
    return "\n".join(out)


def base64_body(data: bytes) -> str:
    """Base64 in lines of 76 characters (57 bytes), each ending in a newline."""
    step = _MAX_LINE // 4 * 3
    return "".join(binascii.b2a_base64(data[i:i + step]).decode("ascii") for i in range(0, len(data), step))


def _part(headers: str, payload: str) -> str:
    return headers + CRLF + _NEWLINES.sub(CRLF, payload)


def _multipart(headers: str, boundary: str, parts: list[str]) -> str:
    delimiter = CRLF + "--" + boundary + CRLF
    return headers + CRLF + "--" + boundary + CRLF + delimiter.join(parts) + CRLF + "--" + boundary + "--" + CRLF


def _multipart_type(subtype: str, boundary: str, varying: tuple[str, ...]) -> str:
    return header_line("Content-Type", f'multipart/{subtype}; boundary="{boundary}"', varying)


def write(draft: Draft, boundaries: tuple[str, str], varying: tuple[str, ...] = ()) -> str:
    """The message as EmailMessage(policy=WIRE) with set_content(text), add_alternative(html),
    add_attachment(...) for each file and these boundaries (outermost first) would write it.

    `varying` names the alphanumeric tokens of the boundaries that change per message.
    """
    head = "".join(header_line(name, value, draft.varying.get(name, ())) for name, value in draft.headers)
    head += header_line("MIME-Version", "1.0")
    text_cte, text_payload = text_body(draft.text)
    html_cte, html_payload = text_body(draft.html)
    alternative = [_part(_text_headers("plain", text_cte, True), text_payload),
                   _part(_text_headers("html", html_cte, False), html_payload)]
    if not draft.attachments:
        return _multipart(head + _multipart_type("alternative", boundaries[0], varying), boundaries[0], alternative)
    parts = [_multipart(_multipart_type("alternative", boundaries[1], varying), boundaries[1], alternative)]
    for a in draft.attachments:
        parts.append(_part(_file_headers(a.maintype, a.subtype, a.filename, a.params), base64_body(a.data)))
    return _multipart(head + _multipart_type("mixed", boundaries[0], varying), boundaries[0], parts)
