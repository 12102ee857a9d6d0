"""A notice's templates rendered once per shape of a fan-out, each member's own texts put in afterwards.

The emails of one fan-out (a distribution to twenty members, a reminder) differ in a few
texts only: the member's name and addresses, the reply address with their token, their
signed download and action links. A shape is the template values with a stand-in for
each of those texts; its subject, text and HTML are rendered once (when the shape comes
a second time), and each member's email is the rendered shape with the member's texts at
the stand-ins' places, HTML-escaped where the template escaped the stand-in.

That is the template's own output only when the templates use those texts as output and
for nothing else (no test, filter or comparison on them): true of the shipped templates,
which the tests render both ways for every kind. Templates from JCBOT_TEMPLATES_DIR are
rendered whole for each member (EmailRenderer makes no Shapes for them). As a further
guard, a shape is rendered with two unrelated sets of stand-ins (no character in common,
other lengths): when the two do not give the same skeleton (something looked inside a
stand-in), or a stand-in was cut or changed, that shape is rendered whole every time.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime
from typing import Any

from markupsafe import escape

# A rendered shape: for each of subject, text and HTML, its literal pieces and, between
# them, which text goes there and whether HTML-escaped.
Skeleton = tuple[tuple[tuple[str, ...], tuple[tuple[int, bool], ...]], ...]
# Shapes kept (a fan-out needs one per zone; other notices rarely repeat): past this, all are forgotten.
KEEP = 64


class _StandIns:
    """One set of stand-ins: the i-th text becomes EDGE + i in `digits` + BARE + EDGE.

    BARE is a character HTML escaping changes, so the output tells where the template escaped.
    """

    def __init__(self, edge: str, digits: str, bare: str, pad: str = "") -> None:
        self.edge, self.digits, self.bare, self.escaped, self.pad = edge, digits, bare, str(escape(bare)), pad
        self.pattern = re.compile(f"{re.escape(edge)}([{digits}]+)({re.escape(self.escaped)}|{re.escape(bare)})"
                                  f"{re.escape(pad)}{re.escape(edge)}")

    def mark(self, i: int) -> str:
        return self.edge + "".join(self.digits[int(c)] for c in str(i)) + self.bare + self.pad + self.edge

    def parse(self, out: str, count: int) -> tuple[tuple[str, ...], tuple[tuple[int, bool], ...]] | None:
        """The output's literal pieces and holes; None if a stand-in was cut, changed or unknown."""
        pieces = self.pattern.split(out)
        literals = tuple(pieces[0::3])
        holes = tuple((int("".join(str(self.digits.index(c)) for c in code)), form != self.bare)
                      for code, form in zip(pieces[1::3], pieces[2::3]))
        if any(i >= count for i, _ in holes) or any("\x00" in s or "\x01" in s for s in literals):
            return None
        return literals, holes


# No character in common, one short and one long (letters, digits, blanks, punctuation that
# HTML escaping keeps): what looks inside a stand-in (its length, a character, a filter
# that changes it) sees two different things.
_A = _StandIns("\x00", "abcdefghij", "&")
_B = _StandIns("\x01\x01", "klmnopqrst", "<", " ABCDEFGHIJKLMNOPQRSTUVWXYZ uvwxyz 0123456789 .,;:!?-_()[]{}/\\|@#$%^*+=~`")


def _stand_ins(values: dict[str, Any], marks: _StandIns) -> tuple[dict[str, Any], list[str]]:
    """The values with a stand-in for each text that differs between the members of a fan-out, and those texts."""
    texts: list[str] = []

    def hole(text: Any) -> Any:
        if not isinstance(text, str) or not text:
            return text  # None and "" are part of the shape (a template may test them)
        texts.append(text)
        return marks.mark(len(texts) - 1)

    def person(who: Any) -> Any:
        # The shipped templates show no member id; only whether there is one is kept.
        if is_dataclass(who) and not isinstance(who, type):
            return replace(who, **{f.name: (hole(v) if isinstance(v := getattr(who, f.name), str) else
                                            0 if f.name == "member_id" and v is not None else v)
                                   for f in fields(who)})
        if isinstance(who, dict):
            return {k: hole(v) if isinstance(v, str) else 0 if k == "member_id" and v is not None else v
                    for k, v in who.items()}
        return who

    shape = dict(values)
    shape["recipient"] = person(values.get("recipient"))
    if isinstance(values.get("data"), dict) and "recipient" in values["data"]:
        shape["data"] = {**values["data"], "recipient": person(values["data"]["recipient"])}
    shape["answer_to"] = hole(values.get("answer_to"))
    docs = values.get("documents")
    if isinstance(docs, list):
        own = {id(d): {**d, "url": hole(d.get("url"))} if isinstance(d, dict) else d for d in docs}
        shape["documents"] = [own[id(d)] for d in docs]
        # The attached files are the same dicts as the documents: the same stand-ins.
        shape["files"] = [(own.get(id(d), d), content) for d, content in values.get("files") or []]
    actions = values.get("actions")
    if isinstance(actions, list):
        shape["actions"] = [(label, hole(url)) for label, url in actions]
    return shape, texts


def _plain(value: Any) -> Any:
    # The key of a shape: what the templates see, as JSON. A file's bytes are named by its
    # document's SHA-256 (checked when read), so only their length is written.
    if is_dataclass(value) and not isinstance(value, type):
        return [type(value).__name__, [getattr(value, f.name) for f in fields(value)]]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return len(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


class Shapes:
    """Rendered shapes of notices, kept per kind and shape (see the module's docstring)."""

    def __init__(self, raw: Callable[[str, dict[str, Any]], tuple[str, str, str]]) -> None:
        self.raw = raw  # (kind, values) -> the templates' subject, text and HTML, as rendered
        # By a digest of the shape's JSON: () for a shape rendered whole every time.
        self.kept: dict[bytes, Skeleton] = {}
        self.seen: set[bytes] = set()  # shapes met once

    def render(self, kind: str, values: dict[str, Any]) -> tuple[str, str, str]:
        """What raw(kind, values) gives, from the shape when it came before."""
        shape, texts = _stand_ins(values, _A)
        if not texts:
            return self.raw(kind, values)
        try:
            seen_as = json.dumps([kind, shape], sort_keys=True, default=_plain)
        except (TypeError, ValueError):  # keys that are not text, a cycle...
            return self.raw(kind, values)
        # A stand-in's characters anywhere else (a control character in a title) would be misread.
        if seen_as.count("\\u0000") != 2 * len(texts) or "\\u0001" in seen_as:
            return self.raw(kind, values)
        key = hashlib.blake2b(seen_as.encode(), digest_size=16).digest()
        skeleton = self.kept.get(key)
        if skeleton is None:
            if key not in self.seen:
                if len(self.seen) >= KEEP:
                    self.seen.clear()
                self.seen.add(key)
                return self.raw(kind, values)
            skeleton = self._learn(kind, shape, values, len(texts))
            if len(self.kept) >= KEEP:
                self.kept.clear()
            self.kept[key] = skeleton or ()
        if not skeleton:
            return self.raw(kind, values)
        escaped: dict[int, str] = {}

        def text(i: int, html: bool) -> str:
            if not html:
                return texts[i]
            if i not in escaped:
                escaped[i] = str(escape(texts[i]))
            return escaped[i]

        out = []
        for literals, holes in skeleton:
            parts = [literals[0]]
            for (i, html), literal in zip(holes, literals[1:]):
                parts += (text(i, html), literal)
            out.append("".join(parts))
        subject, body, html = out
        return subject, body, html

    def _learn(self, kind: str, shape: dict[str, Any], values: dict[str, Any], count: int) -> Skeleton | None:
        """The shape rendered with both sets of stand-ins; None unless both give one skeleton."""
        other, _ = _stand_ins(values, _B)
        try:
            a, b = self.raw(kind, shape), self.raw(kind, other)
        except Exception:  # noqa: BLE001 - rendered whole, which says what is wrong
            return None
        skeleton = tuple(_A.parse(out, count) for out in a)
        if any(part is None for part in skeleton) or skeleton != tuple(_B.parse(out, count) for out in b):
            return None
        return skeleton  # type: ignore[return-value]
