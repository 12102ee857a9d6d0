"""A Maildir's three folders (new/, cur/, tmp/), made without importing the intake.

`jcbot serve` makes them at start-up, while the intake (the MIME parsing, the rules and
the mail composition behind them: about 3 MiB) is imported only once a reply is in new/;
the Maildir intake (maildir.py) makes them again before each look.
"""
from __future__ import annotations

from pathlib import Path

FOLDERS = ("new", "cur", "tmp")


def ensure(root: Path) -> Path:
    """Make the Maildir's three folders (if missing); return `root`."""
    for sub in FOLDERS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root
