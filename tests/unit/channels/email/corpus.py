"""The reply corpus: .eml files written the way the major mail clients write them."""
from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

REPLIES = Path(__file__).resolve().parents[3] / "fixtures" / "replies"
# The corpus's reply addresses carry tokens made with this secret for proposal 7, version 1.
FIXTURE_SECRET = b"jcbot fixture secret"


def load(name: str) -> EmailMessage:
    """Parse one corpus file the way the intake does."""
    return message_from_bytes((REPLIES / name).read_bytes(), _class=EmailMessage, policy=default)
