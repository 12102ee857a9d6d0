"""jcbot/settings.py is the only reader of the environment (issue 15: one configuration).

Every other module gets the settings object (or the folders it names) passed: a value
read from os.environ elsewhere would ignore `.env` and the CLI's options. Every module of
the package is parsed with `ast`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jcbot"
READER = PACKAGE / "settings.py"
OTHERS = sorted(p for p in PACKAGE.rglob("*.py") if p != READER)
NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_reads(source: str) -> list[str]:
    """The places in `source` that read (or write) the process environment: (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in NAMES:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix"):
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names if a.name in NAMES]
    return found


def test_the_package_has_modules_to_check():
    assert READER.is_file() and len(OTHERS) > 50


@pytest.mark.parametrize("path", OTHERS, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_settings_read_the_environment(path):
    assert environment_reads(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    'folder = os.environ.get("JCBOT_RULES_DIR")',
    'url = os.environ["JCBOT_DATABASE_URL"]',
    'x = os.getenv("JCBOT_STORAGE_DIR", "storage")',
    "from os import environ",
    "from os import getenv as ge",
    "import os as o\nv = o.environ",
])
def test_the_check_sees_a_read(source):
    assert environment_reads(source) != []


def test_the_check_lets_settings_pass():
    assert environment_reads("folder = settings.rules_dir\nurl = database_url(settings)\npath = os.path.join(a, b)") == []
    assert environment_reads(READER.read_text(encoding="utf-8")) != []  # the one reader is seen
