"""Find what the member wrote: the reply text, without the quoted original or signature.

Mail clients quote differently: Outlook appends the original after an "Original
Message" line or a From:/Sent:/To: block, Gmail and Thunderbird introduce '>' lines
with "On ... wrote:", Apple Mail quotes that line too, mobile clients add "Sent from my
iPhone". Each way of marking the original is one entry in a table of patterns.
"""
from __future__ import annotations

import re
from email.message import EmailMessage, Message

from jcbot.channels.email.htmltext import html_to_text

# Lines after which everything is the original message (or a forwarded one).
_ORIGINAL_LINES = (
    re.compile(
        r"^-{2,}\s*(original message|forwarded message|ursprüngliche nachricht|weitergeleitete nachricht"
        r"|message d'origine|message transféré|mensaje original|mensaje reenviado|messaggio originale"
        r"|messaggio inoltrato|oorspronkelijk bericht|doorgestuurd bericht|元のメッセージ|転送メッセージ)\s*-{2,}$",
        re.IGNORECASE,
    ),
    re.compile(r"^_{10,}$"),  # Outlook web and Outlook's text part of an HTML reply
    re.compile(r"^(begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié)\s*:$", re.I),
    re.compile(r"^-----BEGIN PGP SIGNATURE-----$"),  # the end of an inline-signed reply
)
# Outlook's header block: a From: line followed closely by Sent:/Date:/To:/Subject:.
_HEADER_FROM = re.compile(r"^\*?(from|von|de|da|van|差出人|发件人)\s?:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\*?(sent|date|to|subject|gesendet|datum|an|betreff|envoyé|à|objet|enviado|para|asunto"
    r"|inviato|oggetto|verzonden|onderwerp|送信日時|宛先|件名|发送时间|收件人|主题)\s?:", re.IGNORECASE
)
# "On <date>, <name> <addr> wrote:" and its translations; Gmail may wrap it over two lines.
_ATTRIBUTION = re.compile(
    r"^(on|am|le|el|il|em|op|den|w dniu)\b.{0,300}\b(wrote|schrieb|a écrit|escribió|ha scritto|escreveu"
    r"|schreef|skrev|napisał)\s*:$",
    re.IGNORECASE | re.DOTALL,
)
# Gmail in Japanese and other languages: "2026年3月3日(火) 8:30 Name <addr>:".
_ADDRESS_COLON = re.compile(r"<[^<>@\s]+@[^<>\s]+>\s*:$")
_SIGNATURE = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^(sent (from|with|via) .{1,40}|get outlook for \w+|von meinem .{1,30} gesendet"
    r"|envoyé de mon .{1,30}|enviado desde mi .{1,30}|inviato da .{1,30}|.{1,20}から送信)$",
    re.IGNORECASE,
)
_PGP_HEAD = re.compile(r"^-----BEGIN PGP SIGNED MESSAGE-----$")


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "us-ascii"
    # Declared charsets are often wrong (8-bit UTF-8 labelled us-ascii) or unknown.
    for candidate, errors in ((charset, "strict"), ("utf-8", "strict"), (charset, "replace"), ("latin-1", "strict")):
        try:
            return payload.decode(candidate, errors)
        except (LookupError, ValueError):  # ValueError: a charset name holding NUL
            continue
    return payload.decode("latin-1")  # pragma: no cover - latin-1 decodes every byte


def body_text(msg: Message) -> str | None:
    """Return the reply's text: its text/plain body, else its HTML body as text; None if neither."""
    if isinstance(msg, EmailMessage):
        plain, html = msg.get_body(preferencelist=("plain",)), msg.get_body(preferencelist=("html",))
    else:  # a compat32 Message: the first inline text parts
        texts = [p for p in msg.walk() if p.get_content_maintype() == "text" and not p.get("Content-Disposition")]
        plain = next((p for p in texts if p.get_content_subtype() == "plain"), None)
        html = next((p for p in texts if p.get_content_subtype() == "html"), None)
    text = _decode(plain) if plain is not None else ""
    # Some clients send an empty text/plain alternative next to the real HTML body.
    if html is not None and not any(ch.isalnum() for ch in text):
        return html_to_text(_decode(html))
    return text if plain is not None else None


def _clean(line: str) -> str:
    return line.replace("\xa0", " ").replace("\u200b", "").replace("\ufeff", "").rstrip()


def _starts_original(lines: list[str], i: int) -> bool:
    line = lines[i].strip()
    if any(p.match(line) for p in _ORIGINAL_LINES):
        return True
    if _HEADER_FROM.match(line):
        return any(_HEADER_NEXT.match(nxt.strip()) for nxt in lines[i + 1 : i + 5])
    return False


def _attribution_length(lines: list[str], i: int) -> int:
    """Return 1 or 2 when an "On ... wrote:" line (maybe wrapped) starts at i, else 0."""
    line = lines[i].strip()
    if _ATTRIBUTION.match(line) or (_ADDRESS_COLON.search(line) and len(line) < 200):
        return 1
    if i + 1 < len(lines) and line:
        joined = line + " " + lines[i + 1].strip()
        if _ATTRIBUTION.match(joined) or (_ADDRESS_COLON.search(joined) and re.match(r"^on\b", line, re.I)):
            return 2
    return 0


def _meaningful(line: str) -> bool:
    return any(ch.isalnum() for ch in line)


def strip_quoted(text: str) -> list[str]:
    """Return the member's own lines: above the quoted original, or below it if nothing is above."""
    lines = [_clean(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    if lines and _PGP_HEAD.match(lines[0].strip()):
        # Inline PGP: skip the armour header and its "Hash:" lines up to the blank line.
        end = lines.index("") if "" in lines else 1
        lines = lines[end + 1 :]
    kept: list[str] = []
    i = 0
    while i < len(lines):
        said = any(_meaningful(line) for line in kept)
        if _starts_original(lines, i):
            break
        quote_intro = _attribution_length(lines, i)
        if quote_intro or lines[i].lstrip().startswith(">"):
            # Top-posted: the answer is above and ends here. Bottom-posted or
            # interleaved: nothing said yet, so skip the quote and read on.
            if said:
                break
            i += quote_intro or 1
            continue
        kept.append(lines[i])
        i += 1
    return strip_signature(kept)


def strip_signature(lines: list[str]) -> list[str]:
    """Return the lines before a "-- " signature or a "Sent from my iPhone" line."""
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) or _MOBILE.match(line.strip()):
            lines = lines[:i]
            break
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines
