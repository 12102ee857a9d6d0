"""The issue's "Done when": a secretariat runs a whole committee from the CLI.

Create it from rules/japan-mongolia.yaml, add members, elect co-chairs, distribute a
bundled proposal, record letters, see it adopted by unanimity at once; restart (a new
context, then a separate process) and find everything; the audit record verifies, and
names the event after a row is edited by hand.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("dorj", "host")]


def _set_up(jcbot) -> str:
    out = jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia").stdout
    assert out.strip() == "created committee japan-mongolia: Japan-Mongolia Joint Committee (Asia/Ulaanbaatar, code MN)"
    for handle, gov in MEMBERS:
        out = jcbot("member", "add", "japan-mongolia", handle, "-g", gov, "--name", handle.title(),
                    "--email", f"{handle}@jc.example").stdout
        assert out.strip() == f"japan-mongolia: {handle} ({gov}) is a member"
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")
    jcbot("alternate", "set", "japan-mongolia", "tanaka", "sato")
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "Approve a methodology and register a project",
                "--text", "The Joint Committee approves MN_AM001 and registers MN001.",
                "--item", "methodology_approval:Energy-efficient transformers",
                "--item", "project_registration:Solar power in Darkhan").stdout
    ref = re.fullmatch(r"drafted (MN-P-\d{4}-001)\n", out).group(1)
    out = jcbot("proposal", "distribute", ref).stdout
    assert re.fullmatch(rf"distributed {ref} version 1 to 4 members; deadline \S+\+08:00\n", out), out
    return ref


def test_a_whole_committee_from_the_cli(jcbot):
    ref = _set_up(jcbot)
    year = datetime.now(ZoneInfo("Asia/Ulaanbaatar")).year
    pending = jcbot("pending").stdout
    assert ref in pending and "tanaka, sato, bat, dorj" in pending

    for i, (handle, _) in enumerate(MEMBERS):
        out = jcbot("assert", ref, handle, "affirmative", "--note", f"letter {i + 1}, received by post",
                    "--evidence", f"letter-{handle}").stdout
        expected = "adopted" if i == len(MEMBERS) - 1 else "open"
        assert out.strip() == f"{ref}: recorded {handle} affirmative (letter); status {expected}"
    # The same letter entered twice is recorded once.
    out = jcbot("assert", ref, "dorj", "affirmative", "--note", "again", "--evidence", "letter-dorj").stdout
    assert out.strip() == f"{ref}: this letter was already recorded; status adopted"

    shown = json.loads(jcbot("proposal", "show", ref, "--json").stdout)
    assert (shown["status"], shown["basis"]) == ("adopted", "unanimous")
    assert shown["adopted_at"] == shown["assertions"][-1]["at"]  # at the last assertion
    assert [(i["kind"], i["reference"]) for i in shown["items"]] == [
        ("methodology_approval", "MN_AM001"), ("project_registration", "MN001")]
    assert {a["channel"] for a in shown["assertions"]} == {"letter"}
    assert shown["assertions"][0]["note"] == "letter 1, received by post"
    assert jcbot.sql("SELECT number, basis FROM decision") == [(f"MN-{year}-001", "unanimous")]
    # The outbox holds the mail the changes caused, written with them.
    kinds = jcbot.sql("SELECT kind, count(*) FROM outbox_message WHERE channel = 'email' GROUP BY kind ORDER BY kind")
    assert kinds == [("adoption", 4), ("confirmation", 4), ("distribution", 4)]
    assert jcbot("pending").stdout.strip() == "nothing pending"

    # Restart: a new context on the same database finds everything.
    assert "japan-mongolia  Japan-Mongolia Joint Committee  MN" in jcbot("committee", "list").stdout
    members = jcbot("member", "list", "japan-mongolia").stdout
    assert "tanaka  Tanaka  japan       japan co-chair" in members and "sato    Sato    japan       japan alternate" in members
    show = jcbot("proposal", "show", ref).stdout
    assert "status      adopted (unanimous)" in show and "[MN_AM001]" in show
    verified = jcbot("audit", "verify").stdout
    count = int(re.fullmatch(r"audit chain ok: (\d+) events, head [0-9a-f]{64}\n", verified).group(1))
    assert count == jcbot.sql("SELECT count(*) FROM audit_event")[0][0] >= 15

    # ... and so does a separate process.
    script = Path(sys.executable).with_name("jcbot")
    proc = subprocess.run([str(script), "proposal", "show", ref, "--json"], capture_output=True, text=True,
                          env=os.environ.copy(), timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "adopted"

    # A row edited by hand: verify fails (exit 1) and names the event.
    target = jcbot.sql("SELECT id FROM audit_event WHERE action = 'assertion.recorded' ORDER BY id LIMIT 1")[0][0]
    jcbot.sql("UPDATE audit_event SET actor = 'cli:mallory' WHERE id = :i", i=target)
    broken = jcbot("audit", "verify", ok=False)
    assert broken.exit_code == 1
    assert broken.stderr.strip() == (f"audit chain BROKEN at event {target}: "
                                     "content does not match its hash (edited after it was recorded)")


def test_audit_export_writes_every_event(jcbot, tmp_path):
    _set_up(jcbot)
    out = tmp_path / "audit.csv"
    assert jcbot("audit", "export", "--format", "csv", "--out", str(out)).stdout.startswith("wrote ")
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,at,actor,action,committee_id,subject,data,prev_hash,hash"
    assert len(lines) - 1 == jcbot.sql("SELECT count(*) FROM audit_event")[0][0]
    events = json.loads(jcbot("audit", "export").stdout)
    assert [e["action"] for e in events][:2] == ["committee.created", "roster.add_member"]


def test_committee_show_and_objections_in_pending(jcbot):
    ref = _set_up(jcbot)
    jcbot("assert", ref, "dorj", "negative", "--opinion", "The baseline is too high.", "--note", "letter")
    pending = jcbot("pending").stdout
    assert re.search(rf"{ref}\s+.*objected.*dorj\s*$", pending, re.M), pending
    shown = json.loads(jcbot("pending", "--json").stdout)["proposals"]
    assert shown[0]["negatives"] == ["dorj"] and shown[0]["assertions"][0]["opinion"] == "The baseline is too high."
    # Escalated to both co-chairs and tanaka's alternate.
    assert sorted(r[0] for r in jcbot.sql("SELECT recipient FROM outbox_message WHERE kind = 'escalation'")) == [
        "bat@jc.example", "sato@jc.example", "tanaka@jc.example"]
    show = jcbot("committee", "show", "japan-mongolia").stdout
    assert "japan co-chair  tanaka until" in show and "(alternate sato)" in show
    assert "period        20 calendar days (end_of_day)" in show


def test_refer_then_adopt_at_a_meeting(jcbot, tmp_path):
    ref = _set_up(jcbot)
    jcbot("assert", ref, "dorj", "negative", "--opinion", "Discuss in person.", "--note", "letter")
    assert jcbot("proposal", "refer", ref, "--by", "bat", "--note", "to the 3rd meeting").stdout.strip() == f"{ref} referred"
    decisions = tmp_path / "decisions.yaml"
    decisions.write_text("- title: Designate a TPE\n  text: By consensus.\n  items: ['tpe_designation:TPE Z']\n",
                         encoding="utf-8")
    held = datetime.now(ZoneInfo("Asia/Ulaanbaatar")).date().isoformat()
    out = jcbot("meeting", "record", "japan-mongolia", "--title", "3rd Joint Committee", "--date", held,
                "--place", "Ulaanbaatar", "--decisions", str(decisions), "--adopt", ref).stdout.splitlines()
    year = held[:4]
    assert out == [f"japan-mongolia: recorded 3rd Joint Committee ({held}, Ulaanbaatar) with 2 decision(s)",
                   f"  MN-{year}-001  Designate a TPE",
                   f"  MN-{year}-002  Approve a methodology and register a project"]
    rows = jcbot.sql("SELECT d.number, d.basis, p.ref, p.status FROM decision d "
                     "JOIN proposal_version v ON v.id = d.version_id JOIN proposal p ON p.id = v.proposal_id")
    assert rows == [(f"MN-{year}-002", "meeting", ref, "adopted")]
    jcbot.refused("meeting", "record", "japan-mongolia", "--title", "4th", "--date", held, "--place", "Tokyo",
                  "--adopt", ref, match=f"{ref} is adopted, not referred")
    assert jcbot("audit", "verify").stdout.startswith("audit chain ok")


def test_the_same_letter_entered_twice_is_recorded_once(jcbot):
    ref = _set_up(jcbot)
    first = jcbot("assert", ref, "dorj", "affirmative", "--note", "Letter of 4 March, by fax").stdout
    again = jcbot("assert", ref, "dorj", "affirmative", "--note", "Letter of 4 March,  by fax").stdout
    assert "recorded dorj affirmative" in first and "already recorded" in again
    assert jcbot.sql("SELECT count(*) FROM assertion WHERE member = 'dorj'")[0][0] == 1
    # Another letter (another note) is another assertion.
    jcbot("assert", ref, "dorj", "affirmative", "--note", "Letter of 9 March")
    assert jcbot.sql("SELECT count(*) FROM assertion WHERE member = 'dorj'")[0][0] == 2
