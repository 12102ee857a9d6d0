"""HTML reply bodies to plain text, keeping the quoted original recognisable.

Standard library only (html.parser). Quoted parts (blockquote, Gmail's gmail_quote,
Thunderbird's moz-cite-prefix) come out as '> ' lines, like a plain-text reply, so one
reader handles both and a reply written below the quote is still found. Outlook's
reply header (divRplyFwdMsg and friends) is followed by the original as *siblings*,
not children, so there the text ends with an "Original Message" marker line.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

ORIGINAL_MARKER = "-----Original Message-----"

_BLOCK = {
    "address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
    "table", "td", "th", "tr", "ul",
}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
_HIDDEN = {"head", "script", "style", "template", "title"}
_QUOTE_CLASSES = {"gmail_quote", "gmail_attr", "moz-cite-prefix", "yahoo_quoted"}
# Signatures marked up by Gmail and Thunderbird: not part of the answer or the opinion.
_SIGNATURE_CLASSES = {"gmail_signature", "moz-signature"}
# Outlook (desktop, web, new Outlook) put the original after these elements.
_ORIGINAL_IDS = {"divrplyfwdmsg", "x_divrplyfwdmsg", "appendonsend", "mail-editor-reference-message-container"}
_ORIGINAL_CLASSES = {"outlookmessageheader"}
_SPACES = re.compile(r"[ \t\r\n\f\v\xa0\u200b\ufeff]+")


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._parts: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []  # (tag, opens a quote, hides text)
        self._quote = 0
        self._hidden = 0
        self._pre = 0
        self._line_quoted = False
        self.ended = False

    def _flush(self, blank: bool = False) -> None:
        raw = "".join(self._parts)
        text = _SPACES.sub(" ", raw).strip()
        self._parts.clear()
        if text:
            self.lines.append(("> " + text) if self._line_quoted else text)
        elif (blank or "\xa0" in raw) and self.lines and self.lines[-1] != "":
            # A blank line is written as <br><br> or <p>&nbsp;</p>; other block
            # boundaries (Outlook writes every line as a <p>) are plain line breaks.
            self.lines.append("")
        self._line_quoted = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.ended:
            return
        values = dict(attrs)
        ident = (values.get("id") or "").lower()
        classes = set((values.get("class") or "").lower().split())
        if ident in _ORIGINAL_IDS or classes & _ORIGINAL_CLASSES:
            self._flush()
            self.lines.append(ORIGINAL_MARKER)
            self.ended = True
            return
        if tag in _BLOCK:
            self._flush(blank=tag == "br")
        if tag in _VOID:
            return
        quote = tag == "blockquote" or bool(classes & _QUOTE_CLASSES)
        hidden = tag in _HIDDEN or bool(classes & _SIGNATURE_CLASSES)
        self._pre += tag == "pre"
        self._stack.append((tag, quote, hidden))
        self._quote += quote
        self._hidden += hidden

    def handle_endtag(self, tag: str) -> None:
        if self.ended or tag not in {t for t, _, _ in self._stack}:
            return  # a stray end tag: HTML mail is often malformed
        if tag in _BLOCK:
            self._flush()
        while self._stack:
            opened, quote, hidden = self._stack.pop()
            self._pre -= opened == "pre"
            self._quote -= quote
            self._hidden -= hidden
            if opened == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.ended or self._hidden:
            return
        # Inside <pre> (Thunderbird, plain-text-like mail) line breaks are real.
        lines = data.split("\n") if self._pre else [data]
        for i, text in enumerate(lines):
            if i:
                self._flush(blank=True)
            if self._quote and text.strip():
                self._line_quoted = True
            self._parts.append(text)


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML body, quoted parts as '> ' lines."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    reader._flush()
    return "\n".join(reader.lines).strip("\n")
