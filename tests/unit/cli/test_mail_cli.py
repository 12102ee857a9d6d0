"""`jcbot mail parse`: how a saved reply is read, without a database."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jcbot.cli import app

REPLIES = Path(__file__).resolve().parents[2] / "fixtures" / "replies"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["mail", "parse", *args])


def test_text_output_shows_the_reading_and_why():
    result = run(str(REPLIES / "negative_with_opinion.eml"))
    assert result.exit_code == 0, result.output
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if ":" in line and not line.startswith(" "))
    assert lines["assertion"].strip() == "negative"
    assert lines["opinion"].strip() == "the baseline is too high"
    assert lines["kind"].strip() == "answer"
    assert "reads as negative" in lines["reason"]
    assert lines["from"].strip() == "t.bold@mof.example.gov.mn"
    assert "proposal 7, version 1, member 5; not verified" in lines["token"]


def test_json_output_for_an_answer():
    result = run(str(REPLIES / "gmail_yes.eml"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["assertion"] == "affirmative"
    assert data["opinion"] is None
    assert data["from"] == "hanako.sato.jc@gmail.com"
    assert data["message_id"].startswith("<CAJx8")
    assert data["tokens"] == [
        {"token": "a4asd2kmbuh5uqh4zdple", "problem": None,
         "unverified_claims": {"proposal_id": 7, "version": 1, "member_id": 33}}
    ]


@pytest.mark.parametrize(
    "name, kind",
    [("ambiguous_yes_object.eml", "ambiguous"), ("ooo_exchange.eml", "auto_reply"), ("empty_reply.eml", "empty"),
     ("negative_without_opinion.eml", "missing_opinion")],
)
def test_unrecorded_readings_exit_0_with_a_null_assertion(name, kind):
    result = run(str(REPLIES / name), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert (data["assertion"], data["kind"]) == (None, kind)
    assert data["reason"]


def test_local_limits_tokens_to_our_reply_address(tmp_path):
    eml = tmp_path / "reply.eml"
    eml.write_text("From: a@x.org\nTo: other+zzz@x.org\nCc: jc+notatoken@x.org\nSubject: Re\n\nAgree\n")
    data = json.loads(run(str(eml), "--json", "--local", "jc").stdout)
    assert [t["token"] for t in data["tokens"]] == ["notatoken"]
    assert "malformed" in data["tokens"][0]["problem"]
    text = run(str(eml), "--local", "nobody").stdout
    assert "none found in To/Cc/Delivered-To/X-Original-To" in text


def _missing(path: Path) -> Path:
    return path / "missing.eml"


def _directory(path: Path) -> Path:
    return path


def _empty(path: Path) -> Path:
    (path / "empty.eml").write_bytes(b"\n")
    return path / "empty.eml"


@pytest.mark.parametrize("make", [_missing, _directory, _empty])
def test_unreadable_files_exit_2_with_one_line(tmp_path, make):
    result = run(str(make(tmp_path)))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_mail_group_lists_parse():
    result = runner.invoke(app, ["mail", "--help"])
    assert result.exit_code == 0
    assert "parse" in result.stdout


def _queued_reply(tmp_path, received: str) -> Path:
    eml = tmp_path / "queued.eml"
    eml.write_bytes(b"Received: " + received.encode() + b"\r\n" + (REPLIES / "gmail_yes.eml").read_bytes())
    return eml


def test_dated_by_the_trusted_mta_received_header(tmp_path):
    eml = _queued_reply(tmp_path, "from a (a [192.0.2.1])\r\n\tby mx.example.org (Postfix);\r\n"
                                  "\tMon, 23 Mar 2026 23:59:30 +0800")
    result = run(str(eml), "--json", "--trusted-received-by", "relay.example.org, MX.example.org")
    assert result.exit_code == 0, result.output
    dated = json.loads(result.stdout)["dated"]
    assert dated == {"at": "2026-03-23T15:59:30+00:00", "header": "Received #1 (by mx.example.org)", "problem": None}
    text = run(str(eml), "--trusted-received-by", "mx.example.org").stdout
    assert "dated:       2026-03-23T15:59:30+00:00 (Received #1 (by mx.example.org))" in text


def test_dated_at_receipt_without_a_trusted_mta_or_with_an_unreadable_date(tmp_path, monkeypatch):
    monkeypatch.delenv("JCBOT_TRUSTED_RECEIVED_BY", raising=False)
    eml = _queued_reply(tmp_path, "from a by mx.example.org (Postfix); not a date")
    assert "dated:       jcbot's receipt (no trusted MTA given)" in run(str(eml)).stdout
    monkeypatch.setenv("JCBOT_TRUSTED_RECEIVED_BY", "mx.example.org")
    dated = json.loads(run(str(eml), "--json").stdout)["dated"]
    assert dated["at"] is None and "unreadable date 'not a date'" in dated["problem"]
