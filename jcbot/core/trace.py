"""The steps a verdict keeps to explain itself."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo


class Step:
    """One step of the replay: when, what kind, and a sentence for people.

    The sentence may be given as a function that writes it: a verdict is computed for
    every assertion, its trace read far less often (the adoption's audit event, the
    dashboard, `simulate`), so the words are written the first time `text` is read.
    """

    __slots__ = ("at", "kind", "_text", "_write")

    def __init__(self, at: datetime, kind: str, text: str | Callable[[], str]) -> None:
        self.at, self.kind = at, kind
        self._text, self._write = (text, None) if isinstance(text, str) else (None, text)

    @property
    def text(self) -> str:
        if self._text is None:
            assert self._write is not None
            self._text = self._write()  # two threads may both write it: the same words
        return self._text

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return (self.at, self.kind, self.text) == (other.at, other.kind, other.text)

    def __hash__(self) -> int:
        return hash((self.at, self.kind, self.text))

    def __repr__(self) -> str:
        return f"Step(at={self.at!r}, kind={self.kind!r}, text={self.text!r})"


def describe_at(at: datetime, tz: ZoneInfo) -> str:
    """An instant as the committee reads it: local time with its offset."""
    return at.astimezone(tz).isoformat()
