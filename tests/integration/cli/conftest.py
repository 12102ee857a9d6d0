"""The `jcbot` command run in-process (CliRunner) against a real database, one context per invocation."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from typer.testing import CliRunner, Result

from jcbot.cli import app
from jcbot.cli.common import reset_context
from jcbot.store.db import make_engine, session_scope

TABLES = ("committee", "member", "roster_change", "proposal", "proposal_version", "proposal_item", "assertion",
          "meeting", "decision", "counter", "audit_event", "outbox_message")


@dataclass
class Jcbot:
    """Runs `jcbot ARGS` as a fresh process would: settings from the environment, a new context."""

    engine: Engine
    tmp: Path
    runner: CliRunner

    def __call__(self, *args: str, ok: bool = True) -> Result:
        reset_context()
        try:
            result = self.runner.invoke(app, list(args), catch_exceptions=False)
        finally:
            reset_context()
        if ok:
            assert result.exit_code == 0, f"jcbot {' '.join(args)}\n{result.stdout}\n{result.stderr}"
        return result

    def refused(self, *args: str, match: str) -> str:
        """The command fails with one line on stderr matching `match`, and writes nothing."""
        before = self.counts()
        result = self(*args, ok=False)
        assert result.exit_code != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert re.search(match, lines[0]), lines[0]
        assert lines[0].startswith("error: ")
        assert self.counts() == before
        return lines[0]

    def counts(self) -> dict[str, int]:
        with session_scope(self.engine) as s:
            return {t: s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}

    def sql(self, statement: str, **params) -> list:
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []


@pytest.fixture
def jcbot(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Jcbot]:
    """`jcbot` on an empty database (SQLite file or PostgreSQL), storage in a temp dir."""
    for key in list(os.environ):
        if key.startswith("JCBOT_") and not key.startswith("JCBOT_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path / "storage"))
    monkeypatch.setenv("JCBOT_DATABASE_URL", db_url)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    engine = make_engine(db_url)
    yield Jcbot(engine, tmp_path, CliRunner())
    reset_context()
    engine.dispose()
