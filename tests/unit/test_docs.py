"""Docs that cannot drift: every setting, rules key and command is documented."""
from __future__ import annotations

from pathlib import Path

import pytest

from jcbot.cli import app
from jcbot.core.rules import effective_values, rules_from_text
from jcbot.settings import SETTINGS

TOP = Path(__file__).resolve().parents[2]
README = (TOP / "README.md").read_text()
RULES_DOC = (TOP / "docs" / "rules.md").read_text()


@pytest.mark.parametrize("name", [s.name for s in SETTINGS])
def test_every_setting_is_in_the_readme_table(name):
    assert f"| `{name}` |" in README


@pytest.mark.parametrize("key", sorted(effective_values(rules_from_text(
    "timezone: UTC\nmembership: {max_members_per_government: 1}\nelectronic_decision: {objection_period_days: 1}\n"))))
def test_every_rules_key_is_in_the_reference(key):
    assert f"`{key}`" in RULES_DOC


def _commands():
    import typer.main

    group = typer.main.get_command(app)  # the root group imports a command's module on first use
    return sorted(group.list_commands(group.make_context("jcbot", ["rules"], resilient_parsing=True)))


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_in_the_readme(command):
    assert f"`jcbot {command}" in README


def test_the_quick_start_is_the_makefile_and_ci_runs_its_test_command():
    assert "make run" in README and "make test" in README
    makefile = (TOP / "Makefile").read_text()
    assert "run: install\n\t$(BIN)/jcbot serve" in makefile
    ci = (TOP / ".ci" / "run").read_text()
    assert "make test" in ci


DOCS = [TOP / "README.md", *sorted((TOP / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_document_a_doc_names_is_in_the_repository(doc):
    # A link or a bare name (PROCEDURE.md): next to the doc, at the top, in docs/ or in docs/spec/.
    import re

    text = doc.read_text(encoding="utf-8")
    missing = set()
    for name in set(re.findall(r"[\w./-]+\.md\b", text)):
        name = name.split("](")[-1].lstrip("(")
        places = [doc.parent / name, TOP / name, TOP / "docs" / name, TOP / "docs" / "spec" / name]
        if not any(p.is_file() for p in places):
            missing.add(name)
    assert not missing, f"{doc.name} names documents the repository does not hold: {sorted(missing)}"
