"""The steps a verdict keeps to explain itself."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Step:
    """One step of the replay: when, what kind, and a sentence for people."""

    at: datetime
    kind: str
    text: str


def describe_at(at: datetime, tz: ZoneInfo) -> str:
    """An instant as the committee reads it: local time with its offset."""
    return at.astimezone(tz).isoformat()
