"""Builders shared by the core's unit tests."""
from __future__ import annotations

from datetime import datetime

from jcbot.core.rules import Rules, rules_from_data


def rules(tz: str = "Asia/Tokyo", days: int = 20, cap: int = 10, **ed) -> Rules:
    """Rules with the three required keys and any electronic_decision options."""
    return rules_from_data({
        "timezone": tz,
        "membership": {"max_members_per_government": cap},
        "electronic_decision": {"objection_period_days": days, **ed},
    })


def at(text: str) -> datetime:
    """An instant from ISO 8601 text with an offset."""
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None
    return value
