"""Every refusal is one line on stderr, a non-zero exit, and nothing written."""
from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.cli.common import reset_context


@pytest.fixture
def ref(jcbot) -> str:
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    for handle, gov in (("tanaka", "japan"), ("sato", "japan"), ("bat", "host")):
        jcbot("member", "add", "japan-mongolia", handle, "-g", gov)
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "T", "--text", "Text.", "--item", "other:Thing").stdout
    return re.search(r"MN-P-\d{4}-\d{3}", out).group(0)


def test_roster_refusals(jcbot, ref, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("timezone: Asia/Tokyo\nmembership: {max_members_per_government: 10, observers: 2}\n"
                   "electronic_decision: {objection_period_days: 20}\n", encoding="utf-8")
    jcbot.refused("committee", "create", "other", "--rules", str(bad),
                  match=r"bad\.yaml: membership\.observers: unknown key")
    jcbot.refused("committee", "create", "other", "--rules", str(tmp_path / "missing.yaml"),
                  match=r"missing\.yaml: cannot read the rules file \(No such file or directory\)")
    jcbot.refused("committee", "create", "japan-mongolia", "--rules", "default",
                  match="committee 'japan-mongolia' already exists")
    jcbot.refused("committee", "create", "mongolia-2", "--rules", "japan-mongolia",
                  match="code 'MN' is already used by committee japan-mongolia")
    jcbot.refused("committee", "show", "japan-mongolai", match=r"no committee 'japan-mongolai' \(known: japan-mongolia\)")
    jcbot.refused("member", "add", "japan-mongolia", "dorj", "-g", "mongolia",
                  match="dorj: government must be 'japan' or 'host', got 'mongolia'")
    jcbot.refused("member", "add", "japan-mongolia", "dorj", "-g", "host", "--email", "dorj",
                  match="'dorj' is not an email address")
    jcbot.refused("member", "update", "japan-mongolia", "bat", "--tz", "Mongolia/Ulaanbaatar",
                  match="unknown time zone 'Mongolia/Ulaanbaatar'")
    jcbot.refused("member", "remove", "japan-mongolia", "dorj", match="japan-mongolia: no member 'dorj'")
    jcbot.refused("cochair", "elect", "japan-mongolia", "host", "sato",
                  match="cannot elect sato co-chair for host: a member of the japan government")
    jcbot.refused("alternate", "set", "japan-mongolia", "tanaka", "tanaka", match="cannot designate themselves")
    jcbot.refused("alternate", "revoke", "japan-mongolia", "tanaka", match="tanaka has no alternate to revoke")


def test_proposal_refusals(jcbot, ref, tmp_path):
    jcbot.refused("proposal", "draft", "japan-mongolia", "--title", "T", "--item", "other:x",
                  match="give the proposal's text with --text or --text-file")
    jcbot.refused("proposal", "draft", "japan-mongolia", "--title", "T", "--text", "x", "--item", "wish:x",
                  match="--item 'wish:x': expected KIND:TITLE")
    jcbot.refused("proposal", "draft", "japan-mongolia", "--title", "T", "--text-file", str(tmp_path / "nope.txt"),
                  "--item", "other:x", match=r"nope\.txt: No such file or directory")
    jcbot.refused("proposal", "distribute", ref, match="cannot distribute: the host co-chair seat is vacant")
    jcbot.refused("proposal", "show", "MN-P-1999-001", match="no proposal 'MN-P-1999-001'")
    jcbot.refused("assert", ref, "tanaka", "affirmative", "--note", "n", match="has not been distributed yet")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")
    jcbot.refused("proposal", "distribute", ref, "--by", "sato", match="sato is neither a co-chair nor an active alternate")
    jcbot("proposal", "distribute", ref)
    jcbot.refused("proposal", "distribute", ref, match="was already distributed")
    jcbot.refused("assert", ref, "ghost", "affirmative", "--note", "n", match="japan-mongolia: no member 'ghost'")
    jcbot.refused("assert", ref, "sato", "negative", "--note", "n", match="a negative assertion must carry the member's opinion")
    jcbot.refused("assert", ref, "sato", "maybe", "--note", "n", match="an assertion is 'affirmative' or 'negative'")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", " ", match="needs a note")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", "n", "--at", "yesterday",
                  match="--at 'yesterday': expected an ISO 8601 instant")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", "n", "--at", "2026-03-01T09:00:00",
                  match=r"add the UTC offset")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", "n", "--at", "2000-01-01T00:00:00+00:00",
                  match="is before the distribution")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", "n", "--at", "2999-01-01T00:00:00+00:00",
                  match="cannot be recorded in the future")
    jcbot("member", "add", "japan-mongolia", "dorj", "-g", "host")
    jcbot.refused("assert", ref, "dorj", "affirmative", "--note", "n",
                  match="dorj was not a member of the JC when it was distributed")
    jcbot("proposal", "withdraw", ref, "--note", "withdrawn by the co-chairs")
    jcbot.refused("assert", ref, "sato", "affirmative", "--note", "n", match="is withdrawn; nothing was recorded")
    jcbot.refused("proposal", "refer", ref, match="is withdrawn; only an open or objected proposal can be changed")
    jcbot.refused("proposal", "revise", ref, "--text", "again", match="is withdrawn")


def test_meeting_and_audit_refusals(jcbot, ref, tmp_path):
    decisions = tmp_path / "decisions.yaml"
    decisions.write_text("- title: Approve\n  text: By consensus.\n  items: ['methodology_approval:Boilers']\n"
                         "- title: Bad\n  text: x\n  items: ['wish:x']\n", encoding="utf-8")
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "3rd JC", "--date", "2026-13-01", "--place", "Tokyo",
                  match="--date '2026-13-01': expected YYYY-MM-DD")
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "3rd JC", "--date", "2026-01-01", "--place", "Tokyo",
                  "--decisions", str(decisions), match="--item 'wish:x'")
    decisions.write_text("- title: Approve\n  text: By consensus.\n", encoding="utf-8")
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "3rd JC", "--date", "2026-01-01", "--place", "Tokyo",
                  "--decisions", str(decisions), match=r"decisions\[0\]: expected keys title, text, items")
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "3rd JC", "--date", "2999-01-01", "--place", "Tokyo",
                  match="is in the future")
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "3rd JC", "--date", "2026-01-01", "--place", "Tokyo",
                  "--adopt", ref, match=f"{ref} is draft, not referred to a meeting of japan-mongolia")
    jcbot.refused("audit", "export", "--format", "xml", match="--format 'xml': expected csv or json")


@pytest.mark.parametrize("variable, value, match", [
    ("JCBOT_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/jcbot", "cannot open the database: connection failed"),
    ("JCBOT_DATABASE_URL", "not a url", "JCBOT_DATABASE_URL: Could not parse"),
    ("JCBOT_SMTP_PORT", "seventy", "JCBOT_SMTP_PORT: invalid literal"),
    ("JCBOT_COLOUR", "blue", "JCBOT_COLOUR: unknown setting"),
])
def test_a_broken_configuration_is_one_line(monkeypatch, tmp_path, variable, value, match):
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path))
    monkeypatch.delenv("JCBOT_DATABASE_URL", raising=False)
    monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)
    reset_context()
    result = CliRunner().invoke(app, ["committee", "list"], catch_exceptions=False)
    reset_context()
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and re.search(match, result.stderr), result.stderr


def test_a_member_update_without_changes_is_refused(jcbot, ref):
    jcbot.refused("member", "update", "japan-mongolia", "sato", match="sato: nothing to update")
    assert jcbot("member", "update", "japan-mongolia", "sato", "--email", "sato@env.go.jp").stdout.strip() == \
        "japan-mongolia: sato updated"
