"""Small helpers shared by the CLI groups: one-line errors, loading rules files."""
from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from jcbot.core.errors import RulesError
from jcbot.core.rules import Rules, rules_from_text
from jcbot.resources import resolve_rules


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit non-zero."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_rules(name_or_path: str) -> tuple[Rules, Path]:
    """Load a rules file by path or shipped name; exit 2 with one line if it is unusable."""
    path = resolve_rules(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{name_or_path}: cannot read the rules file ({exc.strerror or exc})")
    try:
        return rules_from_text(text, str(path)), path
    except RulesError as exc:
        fail(str(exc))
