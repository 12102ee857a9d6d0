"""Reading back a published decision page: the fields marked with data-field attributes."""
from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Fields(HTMLParser):
    """Collects the text and attributes of every element carrying data-field."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, dict | None]] = []
        self.found: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            if tag == "br":
                self._text("\n")
            return
        a = {k: v or "" for k, v in attrs}
        entry = None
        if "data-field" in a:
            entry = {"field": a["data-field"], "attrs": a, "text": [], "children": []}
            parent = next((e for _, e in reversed(self.stack) if e is not None), None)
            (parent["children"] if parent is not None else self.found).append(entry)
        self.stack.append((tag, entry))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self._text(data)

    def _text(self, data: str) -> None:
        for _, entry in self.stack:
            if entry is not None:
                entry["text"].append(data)


def _text(entry: dict) -> str:
    return " ".join("".join(entry["text"]).split())


def parse_decision_page(html: str) -> dict[str, Any]:
    """number, title, adopted_at, basis, items, text, documents, audit_hash and head_hash as the page shows them."""
    p = _Fields()
    p.feed(html)
    out: dict[str, Any] = {"items": []}
    for e in p.found:
        f = e["field"]
        if f == "adopted_at":
            out[f] = e["attrs"].get("datetime")
        elif f == "basis":
            out[f] = e["attrs"].get("data-basis")
        elif f == "item":
            title = next((_text(c) for c in e["children"] if c["field"] == "item_title"), "")
            out["items"].append({"kind": e["attrs"].get("data-kind"), "reference": e["attrs"].get("data-reference") or None,
                                 "title": title})
        elif f == "document":
            a = e["attrs"]
            out.setdefault("documents", []).append({"name": a.get("data-name"), "sha256": a.get("data-sha256"),
                                                    "size": int(a["data-size"]) if a.get("data-size", "").isdigit() else None})
        elif f == "audit_hash":
            out[f] = _text(e) if e["attrs"].get("class") == "hash" else None
        elif f not in out:
            out[f] = _text(e)
    return out


def parse_head(html: str) -> str | None:
    """The audit chain head a page carries, if any."""
    return parse_decision_page(html).get("head_hash")
