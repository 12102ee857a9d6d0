"""The CLI finds the project's database from any folder below it, and never makes an empty one to read."""
from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.cli.common import reset_context


@pytest.fixture
def run(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("JCBOT_") and not key.startswith("JCBOT_TEST_"):
            monkeypatch.delenv(key)

    def invoke(cwd, *args):
        monkeypatch.chdir(cwd)
        reset_context()
        try:
            return CliRunner().invoke(app, list(args), catch_exceptions=False)
        finally:
            reset_context()
    return invoke


def test_found_from_a_subfolder_and_refused_outside(run, tmp_path):
    project, outside = tmp_path / "project", tmp_path / "elsewhere"
    (project / "docs" / "drafts").mkdir(parents=True)
    outside.mkdir()
    first = run(project, "committee", "create", "jm", "--rules", "japan-mongolia")
    assert first.exit_code == 0, first.stderr
    db = project / "storage" / "jcbot.sqlite"
    assert f"creating the database {db}" in first.stderr  # said where, on first use

    listed = run(project / "docs" / "drafts", "committee", "list")
    assert listed.exit_code == 0 and "jm" in listed.stdout
    assert not (project / "docs" / "drafts" / "storage").exists()

    refused = run(outside, "pending")
    assert refused.exit_code == 2
    [line] = refused.stderr.splitlines()
    assert line.startswith("error: no jcbot database found") and str(outside) in line and "--storage" in line
    assert not (outside / "storage").exists()  # nothing created to read from

    pointed = run(outside, "--storage", str(project / "storage"), "committee", "list")
    assert pointed.exit_code == 0 and "jm" in pointed.stdout


def test_an_explicit_storage_without_a_database_is_refused_for_reading(run, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(empty))
    refused = run(tmp_path, "proposal", "show", "MN-P-2026-001")
    assert refused.exit_code == 2
    [line] = refused.stderr.splitlines()
    assert f"no jcbot database in {empty}" in line
    assert not (empty / "jcbot.sqlite").exists()
