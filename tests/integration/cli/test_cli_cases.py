"""`jcbot case ...` and `jcbot registry set` in-process, on SQLite and PostgreSQL (the `jcbot` fixture)."""
from __future__ import annotations

import json
import os
import re

from support import documents as make

MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("dorj", "host")]
CASE_TABLES = ("case", "case_event", "case_document", "case_item", "registry", "document")


def _committee(jcbot) -> None:
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    for handle, gov in MEMBERS:
        jcbot("member", "add", "japan-mongolia", handle, "-g", gov, "--email", f"{handle}@jc.example")
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")


def _case_counts(jcbot) -> dict[str, int]:
    return {t: jcbot.sql(f'SELECT COUNT(*) FROM "{t}"')[0][0] for t in CASE_TABLES}


def test_a_methodology_is_submitted_checked_and_shown(jcbot, tmp_path):
    _committee(jcbot)
    public, full = make.write(tmp_path, "pm.pdf", make.pdf(2, "public")), make.write(tmp_path, "pm-full.pdf",
                                                                                    make.pdf(3, "full"))
    out = jcbot("case", "submit", "japan-mongolia", "methodology", "--title", "Efficient boilers",
                "--proponent", "pp@proponent.example", "--document", str(public),
                "--document", f"{full}:confidential").stdout
    ref = re.fullmatch(r"(MN-C-\d{4}-001) MN_PM001\n", out).group(1)
    before = _case_counts(jcbot)
    jcbot.refused("case", "check", ref, "incomplete", match=r"check refused: an incomplete check needs its reason")
    jcbot.refused("case", "record", ref, "pdd-published", match=r"pdd_published is not allowed for a methodology")
    jcbot.refused("case", "propose", ref, match=r"not allowed for a methodology in state submitted")
    jcbot.refused("case", "submit", "japan-mongolia", "issuance", "--title", "x", "--proponent", "a@b.example",
                  match=r"kind must be one of methodology, project, tpe")
    assert _case_counts(jcbot) == before
    assert jcbot("case", "check", ref, "complete").stdout == f"{ref}: public_inputs\n"
    shown = json.loads(jcbot("case", "show", ref, "--json").stdout)
    assert (shown["state"], shown["number"], shown["kind"]) == ("public_inputs", "MN_PM001", "methodology")
    assert set(shown["windows"]) == {"completeness_check", "public_inputs"}
    assert [d["visibility"] for d in shown["documents"]] == ["public", "confidential"]
    assert [e["event"] for e in shown["events"]] == ["submitted", "check"]
    text = jcbot("case", "show", ref).stdout
    assert "state       public_inputs  number MN_PM001" in text and "SHA-256" in text
    listed = json.loads(jcbot("case", "list", "japan-mongolia", "--json").stdout)
    assert [(c["ref"], c["state"]) for c in listed] == [(ref, "public_inputs")]
    assert ref in jcbot("case", "list").stdout


def test_a_tpe_is_designated_by_the_jc_from_the_cli(jcbot):
    _committee(jcbot)
    ref = jcbot("case", "submit", "japan-mongolia", "tpe", "--title", "Verifiers Ltd",
                "--proponent", "tpe@tpe.example").stdout.strip()
    out = jcbot("case", "propose", ref).stdout
    proposal = re.fullmatch(r"drafted (MN-P-\d{4}-001)\n", out).group(1)
    jcbot("proposal", "distribute", proposal)
    assert json.loads(jcbot("case", "show", ref, "--json").stdout)["state"] == "awaiting_decision"
    for i, (handle, _) in enumerate(MEMBERS):
        jcbot("assert", proposal, handle, "affirmative", "--note", f"letter {i + 1}", "--evidence", f"letter-{handle}")
    jcbot("evaluate")
    shown = json.loads(jcbot("case", "show", ref, "--json").stdout)
    assert shown["state"] == "designated"
    assert shown["proposals"] == [{"ref": proposal, "item": 1, "outcome": "approve", "status": "adopted"}]


def test_registry_set(jcbot):
    _committee(jcbot)
    out = jcbot("registry", "set", "japan-mongolia", "japan", "--email", "reg@jp.example",
                "--url", "https://registry.jp.example/notify").stdout
    assert out == "registry japan: reg@jp.example https://registry.jp.example/notify\n"
    jcbot.refused("registry", "set", "japan-mongolia", "japan", "--email", "nobody", match="--email")
    assert jcbot.sql("SELECT government, email, url FROM registry") == [
        ("japan", "reg@jp.example", "https://registry.jp.example/notify")]


def test_pending_shows_the_cases_duties(jcbot):
    from datetime import UTC, datetime, timedelta

    from jcbot.app import build_context
    from jcbot.clock import ManualClock
    from jcbot.services import cases
    from jcbot.settings import load_settings

    _committee(jcbot)
    assert jcbot("pending").stdout == "nothing pending\n"
    tpe = jcbot("case", "submit", "japan-mongolia", "tpe", "--title", "Verifiers Ltd",
                "--proponent", "tpe@tpe.example").stdout.strip()
    # A methodology submitted ten days ago: its 7-day completeness check is overdue now.
    env = {k: v for k, v in os.environ.items() if k.startswith("JCBOT_")}
    past = build_context(load_settings(env=env, dotenv=None), clock=ManualClock(datetime.now(UTC) - timedelta(days=10)))
    try:
        late = cases.submit(past, "japan-mongolia", "methodology", "Efficient boilers", "pp@proponent.example", [],
                            "test").ref
    finally:
        past.engine.dispose()
    shown = json.loads(jcbot("pending", "--json").stdout)
    assert shown["proposals"] == []
    assert [(d["committee"], d["case"], d["duty"]) for d in shown["duties"]] == [
        ("japan-mongolia", tpe, "awaiting_proposal"), ("japan-mongolia", late, "check_overdue")]
    text = jcbot("pending").stdout
    assert text.startswith("duties:\n")
    assert f"japan-mongolia: {late} Efficient boilers: the completeness check is overdue" in text
    assert f"japan-mongolia: {tpe} Verifiers Ltd: awaits the JC's decision and no proposal carries it" in text
    jcbot("case", "check", late, "complete")
    assert [d["case"] for d in json.loads(jcbot("pending", "--json").stdout)["duties"]] == [tpe]
