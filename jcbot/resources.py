"""Where the shipped rules files and templates are, installed or in a checkout."""
from __future__ import annotations

import os
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parent.parent


def _shipped(name: str) -> Path:
    # Installed wheel: jcbot/_shipped/<name>; checkout (editable or not): <top>/<name>.
    installed = Path(__file__).resolve().parent / "_shipped" / name
    if installed.is_dir() and any(installed.iterdir()):
        return installed
    return _CHECKOUT / name


def rules_dir() -> Path:
    """The folder of rules files: JCBOT_RULES_DIR, else the shipped one."""
    env = os.environ.get("JCBOT_RULES_DIR")
    return Path(env) if env else _shipped("rules")


def templates_dir() -> Path:
    """The folder of Jinja2 templates: JCBOT_TEMPLATES_DIR, else the shipped one."""
    env = os.environ.get("JCBOT_TEMPLATES_DIR")
    return Path(env) if env else _shipped("templates")


def resolve_rules(name_or_path: str | os.PathLike) -> Path:
    """A rules file given as a path, or as a name in the rules folder (with or without .yaml)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    for candidate in (rules_dir() / p.name, rules_dir() / f"{p.name}.yaml"):
        if candidate.exists():
            return candidate
    return p
