"""The CLI imports only what the command run needs: `jcbot --help` is typer alone.

These check which modules a fresh process has imported, not how long it took (timings
are `python -m bench --only cli`'s, in the README).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from jcbot.cli import COMMANDS, app, load

TOP = Path(__file__).resolve().parents[3]
HEAVY = ("sqlalchemy", "sqlmodel", "fastapi", "starlette", "alembic", "jinja2", "aiohttp", "httpx", "rich",
         "jcbot.store", "jcbot.services", "jcbot.app", "jcbot.channels", "jcbot.web")

PROBE = """
import json, sys
from jcbot.cli import app
try:
    app({args!r}, prog_name="jcbot")
except SystemExit as exc:
    code = exc.code
print(json.dumps({{"code": code, "modules": sorted(sys.modules)}}), file=sys.stderr)
"""


def _imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(args=list(args))], capture_output=True, text=True,
                          cwd=TOP, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    return set(report["modules"])


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_imports_typer_and_none_of_the_application():
    modules = _imported("--help")
    assert _heavy(modules) == []
    assert not [m for m in modules if m.startswith("jcbot.cli.") and m != "jcbot.cli"]  # no command module
    assert "pydantic" not in modules


def test_simulate_imports_the_core_but_no_database_or_channel():
    modules = _imported("simulate", "examples/timelines/tokyo-no-objection.yaml", "--rules",
                        "examples/rules/tokyo.yaml")
    assert "jcbot.core.timeline" in modules
    assert _heavy(modules) == []


def test_a_group_help_imports_its_own_module_only():
    modules = _imported("rules", "--help")
    assert "jcbot.cli.rules" in modules
    assert not {"jcbot.cli.proposal", "jcbot.cli.committee", "jcbot.cli.serve"} & modules


def test_the_root_help_lists_every_command_with_its_help_line():
    out = CliRunner().invoke(app, ["--help"], terminal_width=200).stdout
    for entry in COMMANDS:
        assert f"  {entry.name} " in out
        assert entry.help.split(" (")[0][:30] in out, entry.name


@pytest.mark.parametrize("entry", COMMANDS, ids=[e.name for e in COMMANDS])
def test_each_row_of_the_table_loads_its_command_with_the_same_help(entry):
    command = load(entry)
    assert command.name == entry.name
    real = (command.help or "").strip().split("\n\n")[0].replace("\n", " ")
    assert real == entry.help, (f"jcbot/cli/__init__.py COMMANDS: the help line of {entry.name!r} must be the "
                                f"command's own: {real!r}")


def test_the_lazy_group_resolves_every_command_as_click_sees_it():
    group = typer.main.get_command(app)
    ctx = group.make_context("jcbot", ["rules"], resilient_parsing=True)
    names = group.list_commands(ctx)
    assert names == [e.name for e in COMMANDS]
    assert all(group.get_command(ctx, name) is not None for name in names)
    assert group.get_command(ctx, "no-such-command") is None


def test_pending_reads_the_database_but_imports_no_renderer_or_document_store(tmp_path):
    made = subprocess.run([sys.executable, "-m", "jcbot", "--storage", str(tmp_path), "committee", "create", "jc",
                           "--rules", "japan-mongolia"], capture_output=True, text=True, cwd=TOP, timeout=120)
    assert made.returncode == 0, made.stderr
    modules = _imported("--storage", str(tmp_path), "pending")
    assert "jcbot.services.queries" in modules and "sqlalchemy" in modules
    # Notices are rendered by senders at dispatch: a read never builds a renderer.
    assert not {"jinja2", "aiohttp", "jcbot.channels.email.compose", "jcbot.channels.http", "pypdf",
                "jcbot.cli.proposal", "jcbot.cli.document"} & modules
