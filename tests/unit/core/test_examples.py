"""Every shipped example timeline and rules file, through the real CLI (in-process).

examples/timelines/NAME.yaml has a sibling NAME.expected.json:
    {"rules": "<rules file, relative to the checkout>", "verdict": {the JSON of SIMULATE.md}}
examples/timelines/invalid/NAME.yaml has a sibling NAME.expected-error.txt: one or more
lines, each a substring the one-line error on stderr must contain.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.core.rules import rules_from_text

TOP = Path(__file__).resolve().parents[3]
TIMELINES = TOP / "examples" / "timelines"
VALID = sorted(TIMELINES.glob("*.yaml"))
INVALID = sorted((TIMELINES / "invalid").glob("*.yaml"))
SHIPPED_RULES = sorted((TOP / "rules").glob("*.yaml"))
EXAMPLE_RULES = sorted((TOP / "examples" / "rules").glob("*.yaml"))
VERDICT_KEYS = {"status", "basis", "adopted_at", "deadline", "negatives", "awaiting", "escalations"}
INSTANT_KEYS = ("adopted_at", "deadline")


def _simulate(timeline: Path, rules: str):
    # catch_exceptions=False: a crash in the core must fail loudly, not pass as exit 1.
    return CliRunner().invoke(app, ["simulate", str(timeline), "--rules", rules, "--json"], catch_exceptions=False)


def _instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    assert at.utcoffset() is not None, f"{value!r} carries no offset"
    return at


def _comparable(verdict: dict) -> dict:
    """Instants compared as instants; member lists as sorted lists (SIMULATE.md gives no order)."""
    out = dict(verdict)
    for key in INSTANT_KEYS:
        out[key] = _instant(verdict[key])
    for key in ("negatives", "awaiting"):
        out[key] = sorted(verdict[key])
    return out


def test_there_are_examples_to_check():
    # Guards the parametrization: an empty glob would silently check nothing.
    assert len(VALID) >= 30 and len(INVALID) >= 15 and SHIPPED_RULES


@pytest.mark.parametrize("timeline", VALID, ids=[p.stem for p in VALID])
def test_example_timeline(timeline: Path):
    expected_file = timeline.with_suffix(".expected.json")
    assert expected_file.exists(), f"{timeline.name} has no {expected_file.name}"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    assert set(expected) == {"rules", "verdict"}
    assert set(expected["verdict"]) == VERDICT_KEYS, "the expected verdict must be the full documented object"
    rules = TOP / expected["rules"]
    assert rules.exists(), rules

    result = _simulate(timeline, str(rules))

    assert result.exit_code == 0, result.stderr
    actual = json.loads(result.stdout)
    assert set(actual) == VERDICT_KEYS
    for key in INSTANT_KEYS:  # printed with an offset (SIMULATE.md), so comparable as instants
        if actual[key] is not None:
            assert _instant(actual[key]) is not None
    assert _comparable(actual) == _comparable(expected["verdict"])


@pytest.mark.parametrize("timeline", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_timeline(timeline: Path):
    expected_file = timeline.with_suffix(".expected-error.txt")
    assert expected_file.exists(), f"{timeline.name} has no {expected_file.name}"
    needles = [line for line in expected_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert needles

    result = _simulate(timeline, str(TOP / "rules" / "default.yaml"))

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("rules", SHIPPED_RULES + EXAMPLE_RULES, ids=[str(p.relative_to(TOP)) for p in SHIPPED_RULES + EXAMPLE_RULES])
def test_rules_file_is_valid(rules: Path):
    loaded = rules_from_text(rules.read_text(encoding="utf-8"), str(rules))
    assert loaded.electronic_decision.objection_period_days >= 1

    result = CliRunner().invoke(app, ["rules", "check", str(rules), "--json"], catch_exceptions=False)

    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True
    assert report["values"]["timezone"] == loaded.timezone
    assert report["values"]["electronic_decision.objection_period_days"] == loaded.electronic_decision.objection_period_days
