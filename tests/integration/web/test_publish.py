"""`jcbot publish --out DIR` and the check of a published copy against the audit chain."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.cli.common import reset_context
from jcbot.publish.static import PublishError, publish
from jcbot.publish.verify import verify_published
from jcbot.services import assertions
from jcbot.services.meetings import MeetingDecision, record_meeting
from jcbot.store.db import session_scope
from tests.integration.services.helpers import ITEMS, SECRETARIAT, committee, distributed, tick

EVERYONE = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")
PAGE = Path("c/japan-mongolia/decisions/MN-2026-001/index.html")
JSON = Path("c/japan-mongolia/decisions.json")


def adopt(ctx, title: str) -> str:
    ref = distributed(ctx, title=title, at=ctx.clock.now())
    for h in EVERYONE:
        tick(ctx.clock)
        assertions.record_assertion(ctx, ref, h, "affirmative", channel="web", evidence_key=f"{ref}:{h}", actor=SECRETARIAT)
    return ref


@pytest.fixture
def site(ctx, tmp_path) -> Path:
    committee(ctx)
    adopt(ctx, "Approve MN_AM001")
    record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", date(2026, 2, 20), "Ulaanbaatar",
                   [MeetingDecision("Adopt the budget", "The budget as annexed.\nSecond line.", ITEMS[1:])], SECRETARIAT)
    out = tmp_path / "site"
    publish(ctx, out, "https://jc.example/record/")
    return out


def check(ctx, out: Path):
    with session_scope(ctx.engine) as s:
        return verify_published(s, out)


def edit(path: Path, old: str, new: str) -> None:
    body = path.read_text()
    assert old in body, old
    path.write_text(body.replace(old, new, 1))


def test_the_static_site_has_every_page_and_verifies(ctx, site):
    files = sorted(str(p.relative_to(site)) for p in site.rglob("*") if p.is_file())
    assert files == ["c/japan-mongolia/cases.json", "c/japan-mongolia/cases/feed.atom", "c/japan-mongolia/cases/index.html",
                     "c/japan-mongolia/decisions.json", "c/japan-mongolia/decisions/MN-2026-001/index.html",
                     "c/japan-mongolia/decisions/MN-2026-002/index.html", "c/japan-mongolia/feed.atom",
                     "c/japan-mongolia/index.html", "index.html", "static/site.css"]
    # Static links point at index.html files, so the copy also browses from disk.
    assert 'href="../../c/japan-mongolia/decisions/MN-2026-001/index.html"' in (site / "c/japan-mongolia/index.html").read_text()
    feed = (site / "c/japan-mongolia/feed.atom").read_text()
    assert "https://jc.example/record/c/japan-mongolia/decisions/MN-2026-002/" in feed
    report = check(ctx, site)
    assert report.ok, report.problems
    assert (report.decisions, report.files) == (4, 5)  # 2 in the JSON, 2 pages; 5 files read


@pytest.mark.parametrize("target, old, new, expected", [
    (PAGE, "Approve MN_AM001</h1>", "Approve MN_AM999</h1>", "MN-2026-001: title differs from the record"),
    (PAGE, "The Joint Committee decides as follows.", "The Joint Committee decides otherwise.", "MN-2026-001: text differs"),
    (PAGE, 'data-basis="unanimous"', 'data-basis="no_objection"', "MN-2026-001: basis differs"),
    (PAGE, 'data-reference="MN_AM001"', 'data-reference="MN_AM002"', "MN-2026-001: items differ"),
    (JSON, '"text": "The budget as annexed.\\nSecond line."', '"text": "The budget, amended."', "MN-2026-002: text differs"),
    (JSON, '"adopted_at": "2026-', '"adopted_at": "2025-', "adopted_at differs"),
])
def test_an_altered_copy_names_the_first_mismatch(ctx, site, target, old, new, expected):
    edit(site / target, old, new)
    report = check(ctx, site)
    assert not report.ok
    assert report.problems[0].startswith(f"{target}: ")
    assert expected in report.problems[0]


def test_a_hash_not_in_the_chain_or_of_another_event_is_caught(ctx, site):
    page = site / PAGE
    exported = json.loads((site / JSON).read_text())
    hashes = {d["number"]: d["audit_hash"] for d in exported["decisions"]}
    own, other = hashes["MN-2026-001"], hashes["MN-2026-002"]
    edit(page, f">{own}</code>", f">{'0' * 64}</code>")
    assert "audit_hash differs from the record" in check(ctx, site).problems[0]
    # The same substitution in the JSON and the page: still caught, against the chain itself.
    with session_scope(ctx.engine) as s:
        s.execute(text("UPDATE decision SET audit_hash = :h WHERE number = 'MN-2026-001'"), {"h": other})
    edit(page, f">{'0' * 64}</code>", f">{other}</code>")
    data = (site / JSON).read_text().replace(own, other)
    (site / JSON).write_text(data)
    problem = check(ctx, site).problems[0]
    assert "MN-2026-001: audit hash belongs to event" in problem and "decision.recorded" in problem


def test_a_database_rewritten_along_with_the_copy_still_disagrees_with_the_chain(ctx, site):
    with session_scope(ctx.engine) as s:
        s.execute(text("UPDATE decision SET title = 'Adopt a bigger budget' WHERE number = 'MN-2026-002'"))
        s.execute(text("UPDATE decision SET adopted_at = adopted_at - interval '1 day' WHERE number = 'MN-2026-001'")
                  if s.get_bind().dialect.name == "postgresql" else
                  text("UPDATE decision SET adopted_at = datetime(adopted_at, '-1 day') WHERE number = 'MN-2026-001'"))
    publish(ctx, site)  # the forger republishes from the rewritten database
    problems = check(ctx, site).problems
    assert problems[0].startswith(f"{JSON}: MN-2026-001: adopted_at differs from audit event ")
    assert any("MN-2026-002: title differs from audit event" in p and "'Adopt the budget'" in p for p in problems)


def test_a_text_digest_in_the_adoption_event_is_checked(ctx, tmp_path):
    # An adoption event that records title, items and the text's digest (the richer form
    # proposed for services.evaluation.settle) binds the text to the chain as well.
    import hashlib

    from jcbot.store import audit
    from jcbot.store.models import Decision

    committee(ctx)
    items = [{"kind": "other", "title": "Budget", "reference": None}]
    at = ctx.clock.now()
    with session_scope(ctx.engine) as s:
        cid = s.execute(text("SELECT id FROM committee")).scalar_one()
        s.add(Decision(committee_id=cid, number="MN-2026-050", title="Adopt the budget", text="Exact text.",
                       items=items, basis="unanimous", adopted_at=at))
        audit.append(s, at=at, actor="test", action="proposal.adopted", subject="proposal:MN-P-2026-050",
                     committee_id=cid, data={"decision": "MN-2026-050", "basis": "unanimous", "adopted_at": at,
                                             "title": "Adopt the budget", "items": items,
                                             "text_sha256": hashlib.sha256(b"Exact text.").hexdigest()})
    out = tmp_path / "copy"
    publish(ctx, out)
    assert check(ctx, out).ok
    with session_scope(ctx.engine) as s:
        s.execute(text("UPDATE decision SET text = 'Forged text.' WHERE number = 'MN-2026-050'"))
    publish(ctx, out)
    assert check(ctx, out).problems[0].startswith(f"{JSON}: MN-2026-050: text differs from audit event ")


def test_a_head_not_in_the_chain_and_a_removed_decision_are_caught(ctx, site):
    edit(site / "index.html", 'data-field="head_hash">', 'data-field="head_hash">f')
    report = check(ctx, site)
    assert any(p.startswith("index.html: audit chain head f") and "is not an event of the chain" in p
               for p in report.problems)
    (site / PAGE).unlink()
    report = check(ctx, site)
    assert report.problems[0] == ("c/japan-mongolia/decisions: decision MN-2026-001 (adopted at event "
                                  f"{_event_of(ctx, 'MN-2026-001')}, before the head) is missing")


def test_a_page_moved_into_another_decisions_folder_is_caught(ctx, site):
    other = site / "c/japan-mongolia/decisions/MN-2026-002/index.html"
    other.write_text((site / PAGE).read_text())
    assert check(ctx, site).problems[0] == (f"{other.relative_to(site)}: shows decision 'MN-2026-001' "
                                            "in the folder of MN-2026-002")


def _event_of(ctx, number):
    from jcbot.publish.record import adoption_events

    with session_scope(ctx.engine) as s:
        return adoption_events(s)[number].id


def test_a_decision_adopted_after_the_copy_is_not_a_mismatch(ctx, site):
    adopt(ctx, "Adopted after publication")
    report = check(ctx, site)
    assert report.ok, report.problems


def test_publish_refuses_a_broken_chain(ctx, site, tmp_path):
    with session_scope(ctx.engine) as s:
        s.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE id = 3"))
    with pytest.raises(PublishError, match="broken at event 3"):
        publish(ctx, tmp_path / "again")
    assert not (tmp_path / "again").exists()
    assert "the audit chain itself is broken at event 3" in check(ctx, site).problems[0]


def test_an_empty_folder_is_not_a_published_record(ctx, tmp_path):
    report = check(ctx, tmp_path)
    assert not report.ok and "no published record here" in report.problems[0]


@pytest.fixture
def cli(ctx, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("JCBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path / "cli-storage"))
    monkeypatch.setenv("JCBOT_SECRET", "cli-tests-secret-0123456789")
    monkeypatch.chdir(tmp_path)
    reset_context()
    yield lambda *args: CliRunner().invoke(app, list(args))
    reset_context()


def test_cli_publish_and_verify_published(ctx, cli, tmp_path):
    committee(ctx)
    adopt(ctx, "Approve MN_AM001")
    out = tmp_path / "out"
    result = cli("publish", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"published 1 decision(s) of 1 committee(s) to {out} (9 files; audit head event ")
    ok = cli("verify-published", str(out))
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("published record ok: 2 decision entries in 4 files match the audit chain (head ")
    edit(out / PAGE, "Approve MN_AM001</h1>", "Approve something else</h1>")
    bad = cli("verify-published", str(out))
    assert bad.exit_code == 1
    assert bad.stderr.startswith(f"published record does NOT match the audit chain: {PAGE}: MN-2026-001: title differs")
    missing = cli("verify-published", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "not a folder" in missing.stderr
