"""Folders set only in `.env` take effect: the settings read them, and everything uses the settings.

JCBOT_RULES_DIR, JCBOT_TEMPLATES_DIR and JCBOT_STORAGE_DIR are written to a `.env` in the
project's folder (nothing in the environment): the rules are looked up, the pages and the
emails rendered, and the database made where it says.
"""
from __future__ import annotations

import os
import shutil

import pytest
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.cli.common import reset_context
from jcbot import resources
from jcbot.resources import rules_dir, templates_dir

MARK = "Rendered-from-the-dotenv-templates"


@pytest.fixture
def project(tmp_path, monkeypatch):
    for key in list(os.environ):
        if key.startswith("JCBOT_") and not key.startswith("JCBOT_TEST_"):
            monkeypatch.delenv(key)
    own_rules, own_templates = tmp_path / "own-rules", tmp_path / "own-templates"
    own_rules.mkdir()
    shipped = (rules_dir() / "japan-mongolia.yaml").read_text(encoding="utf-8")
    (own_rules / "ulaanbaatar-board.yaml").write_text(shipped, encoding="utf-8")
    shutil.copytree(templates_dir(), own_templates)
    index = own_templates / "site" / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("{% block main %}", "{% block main %}" + MARK, 1),
                     encoding="utf-8")
    mail = own_templates / "email" / "distribution.txt"
    mail.write_text(mail.read_text(encoding="utf-8").replace("{% block body %}", "{% block body %}" + MARK, 1),
                    encoding="utf-8")
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / ".env").write_text(f"JCBOT_RULES_DIR={own_rules}\nJCBOT_TEMPLATES_DIR={own_templates}\n"
                                 f"JCBOT_STORAGE_DIR={tmp_path / 'data'}\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    yield tmp_path
    resources.use(None)  # the next test's process starts on the shipped folders


def jcbot(*args: str) -> str:
    reset_context()
    try:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        reset_context()
    assert result.exit_code == 0, f"jcbot {' '.join(args)}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_rules_templates_and_storage_set_only_in_dotenv_take_effect(project):
    assert MARK not in (templates_dir() / "site" / "index.html").read_text(encoding="utf-8")
    assert jcbot("rules", "list").split() == ["ulaanbaatar-board"]  # the .env's folder, not the shipped one
    jcbot("committee", "create", "ub", "--rules", "ulaanbaatar-board")  # a name only the .env's folder has
    assert (project / "data" / "jcbot.sqlite").is_file()  # the .env's storage
    assert not (project / "project" / "storage").exists()

    jcbot("publish", "--out", str(project / "site"))
    assert MARK in (project / "site" / "index.html").read_text(encoding="utf-8")

    for handle, group in (("tanaka", "japan"), ("bat", "host")):
        jcbot("member", "add", "ub", handle, "-g", group, "--name", handle.title(), "--email", f"{handle}@example.org")
        jcbot("cochair", "elect", "ub", group, handle)
    ref = jcbot("proposal", "draft", "ub", "--title", "A decision", "--text", "The JC decides.",
                "--item", "other:A decision").split()[1]
    jcbot("proposal", "distribute", ref)
    # The reply quotes the distribution email as jcbot renders it: with the .env's template.
    jcbot("dev", "reply", ref, "tanaka", "affirm")
    [reply] = (project / "data" / "maildir" / "new").iterdir()
    assert MARK in reply.read_text(encoding="utf-8")


def test_a_bad_folder_setting_in_dotenv_is_one_line(project):
    (project / "project" / ".env").write_text("JCBOT_RULES_DIR=\nJCBOT_TEMPLATE_DIR=/x\n", encoding="utf-8")
    reset_context()
    result = CliRunner().invoke(app, ["rules", "list"], catch_exceptions=False)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("error: JCBOT_TEMPLATE_DIR: unknown setting")
