"""jcbot/core is pure: no I/O, no clock, no randomness, nothing from the shell (STYLE.md 1-2).

Every module is parsed with `ast`; imports are checked against an allow-list (the pure
standard-library modules, pydantic, yaml and jcbot.core itself) and a deny-list, and
calls that read the clock or open files are flagged.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[3] / "jcbot" / "core"
MODULES = sorted(CORE.rglob("*.py"))  # subpackages too (jcbot/core/cycle/)

FORBIDDEN = {
    "sqlmodel", "sqlalchemy", "aiosmtplib", "aiosmtpd", "aioimaplib", "slack_bolt", "slack_sdk",
    "apscheduler", "jinja2", "httpx", "aiohttp", "requests", "asyncio", "socket", "smtplib",
    "imaplib", "urllib", "subprocess", "os", "pathlib", "io", "logging", "time", "random",
    "threading", "shutil", "tempfile", "sys", "secrets", "uuid", "sqlite3", "http", "email",
    "multiprocessing", "concurrent", "signal", "select", "selectors", "ssl", "ftplib", "glob",
}
ALLOWED = {
    "__future__", "abc", "ast", "bisect", "calendar", "collections", "dataclasses", "datetime",
    "decimal", "enum", "fractions", "functools", "heapq", "itertools", "json", "math", "operator",
    "re", "string", "textwrap", "types", "typing", "typing_extensions", "zoneinfo",
    "pydantic", "pydantic_core", "yaml",
}
# Calls that read the clock or the file system, as dotted names ending the call target.
FORBIDDEN_CALLS = {
    "open", "datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time",
    "time.monotonic", "time.perf_counter", "time.sleep", "input", "print", "exec", "eval",
    "__import__", "importlib.import_module",
}


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return None


def violations(source: str, filename: str = "<source>") -> list[str]:
    """Everything in `source` that makes a core module impure, as readable lines."""
    tree = ast.parse(source, filename)
    found: list[str] = []

    def check_module(name: str, line: int) -> None:
        top = name.split(".")[0]
        if name == "jcbot.core" or name.startswith("jcbot.core."):
            return
        if top == "jcbot":
            found.append(f"{filename}:{line}: imports {name} (only jcbot.core.* is allowed)")
        elif top in FORBIDDEN:
            found.append(f"{filename}:{line}: imports {name} (I/O, clock or randomness)")
        elif top not in ALLOWED:
            found.append(f"{filename}:{line}: imports {name} (not on the list of pure modules)")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                check_module(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside jcbot.core
                continue
            check_module(node.module or "", node.lineno)
            # `from datetime import datetime` is fine; `from time import time` is caught above.
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            for bad in FORBIDDEN_CALLS:
                if name == bad or name.endswith("." + bad) and "." in bad:
                    found.append(f"{filename}:{node.lineno}: calls {name}()")
    return found


def test_the_core_has_modules():
    assert len(MODULES) >= 5, MODULES


@pytest.mark.parametrize("module", MODULES, ids=[str(p.relative_to(CORE)) for p in MODULES])
def test_core_module_is_pure(module: Path):
    assert violations(module.read_text(encoding="utf-8"), module.name) == []


@pytest.mark.parametrize("snippet, why", [
    ("import os", "imports os"),
    ("import os.path", "imports os.path"),
    ("from pathlib import Path", "imports pathlib"),
    ("import sqlmodel", "imports sqlmodel"),
    ("from sqlalchemy.orm import Session", "imports sqlalchemy.orm"),
    ("import asyncio", "imports asyncio"),
    ("from time import time", "imports time"),
    ("import random", "imports random"),
    ("import logging", "imports logging"),
    ("from urllib.request import urlopen", "imports urllib.request"),
    ("from jcbot.store import db", "imports jcbot.store"),
    ("import jcbot.services.decisions", "imports jcbot.services.decisions"),
    ("from jcbot.clock import Clock", "imports jcbot.clock"),
    ("from jcbot import resources", "imports jcbot"),
    ("import numpy", "not on the list of pure modules"),
    ("x = open('f').read()", "calls open()"),
    ("from datetime import datetime\nx = datetime.now()", "calls datetime.now()"),
    ("import datetime\nx = datetime.datetime.utcnow()", "calls datetime.datetime.utcnow()"),
    ("from datetime import date\nx = date.today()", "calls date.today()"),
    ("import time\nx = time.time()", "imports time"),
    ("import time\nx = time.time()", "calls time.time()"),
])
def test_the_detector_flags_impure_code(snippet: str, why: str):
    found = violations(snippet)
    assert any(why in line for line in found), found


@pytest.mark.parametrize("snippet", [
    "from __future__ import annotations",
    "from datetime import datetime, timedelta, timezone",
    "from zoneinfo import ZoneInfo",
    "from pydantic import BaseModel",
    "import yaml",
    "from jcbot.core.errors import RosterError",
    "from . import rules",
    "import re\nx = re.compile('a').match('a')",
    "from datetime import datetime\nx = datetime.fromisoformat('2026-01-01T00:00:00+00:00')",
    "x = dict(a=1).items()",
    "x = 'a'.format(1)",
])
def test_the_detector_passes_pure_code(snippet: str):
    assert violations(snippet) == []
