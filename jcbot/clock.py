"""The only place the shell reads the time; tests hand in a clock they control."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current instant."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: for tests, simulations and replays."""

    def __init__(self, start: datetime) -> None:
        _require_aware(start)
        self._now = start.astimezone(UTC)
        # The dispatcher reads the clock from worker threads too.
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The instant the clock was last set to."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new instant."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to `instant` (aware)."""
        _require_aware(instant)
        with self._lock:
            self._now = instant.astimezone(UTC)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give a time zone (e.g. tzinfo=UTC)")
