"""Every example case, through the real CLI in-process (`jcbot cycle simulate`).

examples/cases/NAME.yaml has a sibling NAME.expected.json:
    {"rules": "<rules file, relative to the checkout>", "output": {the JSON of SIMULATE.md}}
examples/cases/invalid/NAME.yaml has a sibling NAME.expected-error.txt: lines, each a
substring the one-line error on stderr must contain.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jcbot.cli import app

TOP = Path(__file__).resolve().parents[3]
CASES = TOP / "examples" / "cases"
VALID = sorted(CASES.glob("*.yaml"))
INVALID = sorted((CASES / "invalid").glob("*.yaml"))
OUTPUT_KEYS = {"state", "number", "windows", "inputs_counted", "inputs_refused", "duties"}


def _simulate(case: Path, rules: str, *options: str):
    # catch_exceptions=False: a crash in the core must fail loudly, not pass as exit 1.
    return CliRunner().invoke(app, ["cycle", "simulate", str(case), "--rules", rules, *options], catch_exceptions=False)


def _comparable(output: dict) -> dict:
    """Window instants compared as instants (any offset prints the same instant)."""
    out = dict(output)
    out["windows"] = {name: {k: datetime.fromisoformat(v) for k, v in w.items()} for name, w in output["windows"].items()}
    for w in out["windows"].values():
        assert all(at.utcoffset() is not None for at in w.values())
    return out


def test_there_are_examples_to_check():
    # Guards the parametrization: an empty glob would silently check nothing.
    assert len(VALID) >= 20 and len(INVALID) >= 25


@pytest.mark.parametrize("case", VALID, ids=[p.stem for p in VALID])
def test_example_case(case: Path):
    expected_file = case.with_suffix(".expected.json")
    assert expected_file.exists(), f"{case.name} has no {expected_file.name}"
    expected = json.loads(expected_file.read_text(encoding="utf-8"))
    assert set(expected) == {"rules", "output"} and set(expected["output"]) == OUTPUT_KEYS
    rules = TOP / expected["rules"]
    assert rules.exists(), rules

    result = _simulate(case, str(rules), "--json")

    assert result.exit_code == 0, result.stderr
    actual = json.loads(result.stdout)
    assert set(actual) == OUTPUT_KEYS
    assert _comparable(actual) == _comparable(expected["output"])


@pytest.mark.parametrize("case", VALID, ids=[p.stem for p in VALID])
def test_example_case_for_people(case: Path):
    rules = json.loads(case.with_suffix(".expected.json").read_text(encoding="utf-8"))["rules"]
    expected = json.loads(case.with_suffix(".expected.json").read_text(encoding="utf-8"))["output"]

    result = _simulate(case, str(TOP / rules))

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["state", expected["state"]]
    assert lines[1].split()[:2] == ["number", expected["number"] or "-"]
    assert "why:" in lines


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_case(case: Path):
    expected_file = case.with_suffix(".expected-error.txt")
    assert expected_file.exists(), f"{case.name} has no {expected_file.name}"
    needles = [line for line in expected_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert needles

    result = _simulate(case, str(TOP / "rules" / "default.yaml"), "--json")

    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_an_unreadable_case_file_is_one_line(tmp_path):
    result = _simulate(tmp_path / "missing.yaml", "default")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "cannot read the case file" in result.stderr
