"""Where the rules files and templates are: the folders the settings name, else the shipped ones.

The settings (jcbot.settings) are the only reader of the environment and `.env`; this
module never looks at them itself. A caller holding the settings passes them; a process
hands its settings over once with `use` (build_context and the CLI do), so the renderers
that hold none (the public site's pages) see the same folders.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jcbot.settings import Settings

_CHECKOUT = Path(__file__).resolve().parent.parent
# The folders this process was configured with (`use`): "rules" / "templates" -> folder.
_IN_USE: dict[str, Path] = {}


def _shipped(name: str) -> Path:
    # Installed wheel: jcbot/_shipped/<name>; checkout (editable or not): <top>/<name>.
    installed = Path(__file__).resolve().parent / "_shipped" / name
    if installed.is_dir() and any(installed.iterdir()):
        return installed
    return _CHECKOUT / name


def _named(settings: Settings, name: str) -> Path | None:
    value = settings.values.get(f"{name}_dir")
    return Path(value).expanduser() if value else None


def use(settings: Settings | None) -> None:
    """From now on, in this process, the folders `settings` name (JCBOT_RULES_DIR, JCBOT_TEMPLATES_DIR); None: the shipped ones."""
    _IN_USE.clear()
    for name in ("rules", "templates"):
        folder = _named(settings, name) if settings is not None else None
        if folder is not None:
            _IN_USE[name] = folder


def _folder(name: str, settings: Settings | None) -> Path:
    chosen = _named(settings, name) if settings is not None else _IN_USE.get(name)
    return chosen or _shipped(name)


def rules_dir(settings: Settings | None = None) -> Path:
    """The folder of rules files: JCBOT_RULES_DIR of `settings` (default: those in use), else the shipped one."""
    return _folder("rules", settings)


def templates_dir(settings: Settings | None = None) -> Path:
    """The folder of Jinja2 templates: JCBOT_TEMPLATES_DIR of `settings` (default: those in use), else the shipped one."""
    return _folder("templates", settings)


def resolve_rules(name_or_path: str | os.PathLike, settings: Settings | None = None) -> Path:
    """A rules file given as a path, or as a name in the rules folder (with or without .yaml)."""
    p = Path(name_or_path)
    if p.exists():
        return p
    folder = rules_dir(settings)
    for candidate in (folder / p.name, folder / f"{p.name}.yaml"):
        if candidate.exists():
            return candidate
    return p
