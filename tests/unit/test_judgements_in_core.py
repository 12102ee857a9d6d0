"""The procedure's judgements live in jcbot/core only (STYLE.md 11).

Outside the core, a module displays what the verdict says: it never compares an instant
with a deadline ("within the period" is `decision.within_period`, or the verdict's own
fields) and never counts positions (`Verdict.tally`). Every module is parsed with `ast`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "jcbot"
OUTSIDE_CORE = sorted(p for p in PACKAGE.rglob("*.py") if "core" not in p.relative_to(PACKAGE).parts[:1]
                      and "migrations" not in p.parts)
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
POSITIONS = {"affirmative", "negative"}


def _mentions_deadline(node: ast.AST) -> bool:
    return "deadline" in ast.unparse(node).lower()


def judgements(source: str) -> list[str]:
    """The places in `source` that judge as only the core may: (line, what)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(isinstance(op, ORDERING) for op in node.ops):
            operands = [node.left, *node.comparators]
            if any(_mentions_deadline(o) for o in operands):
                found.append(f"line {node.lineno}: compares with a deadline: {ast.unparse(node)}")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "count"
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in POSITIONS):
            found.append(f"line {node.lineno}: counts positions: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("path", OUTSIDE_CORE, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_procedure_judgement_outside_the_core(path):
    assert judgements(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source", [
    'within = a["at"] < p["deadline"]',
    "late = view.version.deadline <= a.at",
    "if now >= v.deadline: pass",
    'n = list(positions.values()).count("affirmative")',
])
def test_the_check_sees_a_judgement(source):
    assert judgements(source) != []


def test_the_check_lets_displays_pass():
    assert judgements("text = when(v.deadline, zone)\nleft = (v.deadline - now).total_seconds()\n"
                      "n = len(verdict.awaiting)\nok = a.at < b.at") == []
