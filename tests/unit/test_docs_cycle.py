"""docs/cycle.md draws each workflow from the transition table, and names every guard.

When this fails after a change to jcbot/core/cycle/table.py, run scripts/cycle-diagrams.
"""
from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from jcbot.core.cycle import GUARDS, KINDS, WINDOWS, mermaid

TOP = Path(__file__).resolve().parents[2]
DOC = (TOP / "docs" / "cycle.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", KINDS)
def test_the_diagram_is_the_table(kind):
    block = f"-->\n```mermaid\n{mermaid(kind)}\n```\n<!-- end mermaid: {kind} -->"
    assert f"<!-- mermaid: {kind} " in DOC
    assert block in DOC, f"docs/cycle.md's {kind} diagram differs from the table: run scripts/cycle-diagrams"


def test_the_script_agrees():
    render = runpy.run_path(str(TOP / "scripts" / "cycle-diagrams"))["render"]
    assert render(DOC) == DOC


def test_every_guarded_event_and_window_key_is_documented():
    for event in GUARDS:
        assert f"| `{event}` |" in DOC, event
    for name, key in WINDOWS.values():
        assert f"`{name}`" in DOC and f"`cycle.{key}`" in DOC


def test_the_command_is_documented():
    assert "jcbot cycle simulate CASE.yaml [--rules FILE] [--json]" in DOC
