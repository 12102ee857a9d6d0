"""The reply corpus: .eml files written the way the major mail clients write them."""
from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from jcbot.channels.email.parse import parse_message

REPLIES = Path(__file__).resolve().parents[3] / "fixtures" / "replies"
# The corpus's reply addresses carry tokens made with this secret for proposal 7, version 1.
FIXTURE_SECRET = b"jcbot fixture secret"


def load(name: str) -> EmailMessage:
    """Parse one corpus file the way the intake does."""
    return parse_message((REPLIES / name).read_bytes())
