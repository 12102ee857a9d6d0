"""Proposals carry documents: stored once by SHA-256, frozen at distribution, bound to each assertion.

Run on SQLite and PostgreSQL, with the content in files and in the database.
"""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select, text
from support import documents as make

from jcbot.services import documents, proposals
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.services.documents import DocumentUnavailable, Upload
from jcbot.settings import Settings
from jcbot.store.blobs import DocumentContent, sha256_hex
from jcbot.store.db import session_scope
from jcbot.store.documents import Document, ProposalDocument
from jcbot.store.models import AssertionRecord

from .helpers import ITEMS, SECRETARIAT, T0, committee, counts, current_version, rows, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

PM = make.pdf(3, "MN_PM012 proposed methodology")
PM_FULL = make.pdf(4, "MN_PM012 proposed methodology, complete")
CALC = make.xlsx("Summary", "Parameters")
DOC_TABLES = ("document", "document_content", "proposal_document")


@pytest.fixture(params=["files", "database"])
def store_kind(request, ctx):  # noqa: F811 - the fixture above
    """Each test once with the content in files, once in the database."""
    ctx.settings = Settings({**ctx.settings.values, "document_store": request.param})
    return request.param


def _uploads():
    return [Upload("MN_PM012.pdf", PM, items=(1,)), Upload("MN_PM012-full.pdf", PM_FULL, "confidential", (1,)),
            Upload("MN015-calculation.xlsx", CALC, items=(2,))]


def _all_counts(engine):
    with session_scope(engine) as s:
        extra = {t: s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in DOC_TABLES}
    return counts(engine) | extra


def _audit(engine, action):
    with session_scope(engine) as s:
        return [(subject, data) for subject, data in s.execute(text(
            "SELECT subject, data FROM audit_event WHERE action = :a ORDER BY id"), {"a": action})]


def _content_hashes(engine):
    with session_scope(engine) as s:
        return sorted(s.scalars(select(DocumentContent.sha256)))


def _files(ctx):
    root = ctx.settings.storage_path / "documents"
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_draft_carries_its_documents_stored_once_by_hash(ctx, engine, store_kind):
    committee(ctx)
    ref = proposals.draft(ctx, "japan-mongolia", "Approve MN_AM001 and register MN001", "Text.", ITEMS,
                          SECRETARIAT, _uploads()).ref
    v = current_version(engine, ref)
    with session_scope(engine) as s:
        carried = documents.of_version(s, v.id)
    assert [(a.position, a.name, a.visibility, a.items) for a in carried] == [
        (1, "MN_PM012.pdf", "public", (1,)), (2, "MN_PM012-full.pdf", "confidential", (1,)),
        (3, "MN015-calculation.xlsx", "public", (2,))]
    assert [(a.pages, a.sheets) for a in carried] == [(3, None), (4, None), (None, ("Summary", "Parameters"))]
    assert [a.sha256 for a in carried] == [sha256_hex(PM), sha256_hex(PM_FULL), sha256_hex(CALC)]
    assert carried[2].media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert carried[0].as_dict() == {"name": "MN_PM012.pdf", "sha256": sha256_hex(PM), "size": len(PM),
                                    "media_type": "application/pdf", "visibility": "public", "pages": 3,
                                    "sheets": None, "items": [1]}
    docs = rows(engine, Document)
    assert {d.stored_in for d in docs} == {store_kind}
    assert {d.added_by for d in docs} == {SECRETARIAT}
    if store_kind == "files":
        assert _files(ctx) == sorted(a.sha256 for a in carried)
        assert _content_hashes(engine) == []
    else:
        assert _files(ctx) == []
        assert _content_hashes(engine) == sorted(a.sha256 for a in carried)
    stored = _audit(engine, "document.stored")
    assert [subject for subject, _ in stored] == [f"document:{a.sha256}" for a in carried]
    (drafted,) = _audit(engine, "proposal.drafted")
    assert '"documents":[{"items":[1],"name":"MN_PM012.pdf"' in drafted[1]

    # Read back verified; the same bytes attached elsewhere are stored once.
    assert documents.read(ctx, sha256_hex(PM)) == (docs[0], PM)
    other = proposals.draft(ctx, "japan-mongolia", "Other", "Text.", ITEMS, SECRETARIAT,
                            [Upload("copy-of-PM012.pdf", PM)]).ref
    assert len(rows(engine, Document)) == 3
    with session_scope(engine) as s:
        assert [a.name for a in documents.of_version(s, current_version(engine, other).id)] == ["copy-of-PM012.pdf"]


def test_attach_before_distribution_then_frozen(ctx, engine, store_kind):
    committee(ctx)
    ref = proposals.draft(ctx, "japan-mongolia", "Approve", "Text.", ITEMS, SECRETARIAT).ref
    added = proposals.attach(ctx, ref, [Upload("MN_PM012.pdf", PM, items=(1, 2))], SECRETARIAT)
    assert [(a.name, a.items) for a in added] == [("MN_PM012.pdf", (1, 2))]
    assert proposals.attach(ctx, ref, [Upload("MN_PM012.pdf", PM)], SECRETARIAT) == []  # the same again: no change
    proposals.attach(ctx, ref, [Upload("calc.xlsx", CALC)], SECRETARIAT)
    gone = proposals.detach(ctx, ref, "calc.xlsx", SECRETARIAT)
    assert gone.sha256 == sha256_hex(CALC)
    assert [e[1] for e in _audit(engine, "proposal.document_detached")] == [
        f'{{"name":"calc.xlsx","sha256":"{sha256_hex(CALC)}","version":1}}']
    before = _all_counts(engine)
    for uploads, match in [
        ([Upload("MN_PM012.pdf", PM_FULL)], "already carries another file named MN_PM012.pdf; detach it first"),
        ([Upload("renamed.pdf", PM)], "same content as MN_PM012.pdf, which version 1 already carries"),
        ([Upload("x.pdf", PM_FULL, items=(3,))], r"names item 3, but the proposal has items 1 to 2"),
        ([Upload("x.pdf", PM_FULL, "secret")], "visibility must be public or confidential"),
        ([Upload("ok.pdf", PM_FULL), Upload("setup.exe", b"MZ")], r"\.exe files are not accepted"),
        ([Upload("MN_PM012.pdf", PM, "confidential")], "a document is public or confidential, not both"),
    ]:
        with pytest.raises(ServiceError, match=match):
            proposals.attach(ctx, ref, uploads, SECRETARIAT)
        assert _all_counts(engine) == before, match
    with pytest.raises(ServiceError, match="carries no document named 'nope.pdf' \\(it carries: MN_PM012.pdf\\)"):
        proposals.detach(ctx, ref, "nope.pdf", SECRETARIAT)
    assert sha256_hex(PM_FULL) not in _files(ctx)  # a refused batch writes no content either

    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    (dist,) = _audit(engine, "proposal.distributed")
    assert f'"documents":["{sha256_hex(PM)}"]' in dist[1]
    before = _all_counts(engine)
    with pytest.raises(ServiceError, match=rf"{ref} version 1 was distributed at 2026-03-02 23:30 UTC; its documents are "
                                           rf"frozen: revise it to distribute other documents"):
        proposals.attach(ctx, ref, [Upload("late.pdf", PM_FULL)], SECRETARIAT)
    with pytest.raises(ServiceError, match="frozen: revise it"):
        proposals.detach(ctx, ref, "MN_PM012.pdf", SECRETARIAT)
    assert _all_counts(engine) == before


def test_assertions_bind_the_hashes_and_a_revision_with_other_documents_starts_afresh(ctx, engine, store_kind):
    committee(ctx)
    ref = proposals.draft(ctx, "japan-mongolia", "Approve", "Text.", ITEMS, SECRETARIAT, _uploads()).ref
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    tick(ctx.clock)
    record_assertion(ctx, ref, "tanaka", "affirmative", channel="email", evidence_key="<t1@x>", actor="email:tanaka")
    v1 = sorted(sha256_hex(d) for d in (PM, PM_FULL, CALC))
    (a,) = rows(engine, AssertionRecord)
    assert a.documents == v1
    (event,) = _audit(engine, "assertion.recorded")
    assert f'"documents":["{v1[0]}","{v1[1]}","{v1[2]}"]' in event[1]
    with session_scope(engine) as s:
        notice = s.execute(text("SELECT payload FROM outbox_message WHERE kind = 'confirmation'")).scalar_one()
    assert all(h in notice for h in v1)  # the confirmation repeats what the member asserted on

    # Revised without documents: the new version carries the same ones (item bindings kept with the items).
    tick(ctx.clock)
    v2 = proposals.revise(ctx, ref, SECRETARIAT, text="Second text.")
    with session_scope(engine) as s:
        assert [(x.name, x.items) for x in documents.of_version(s, v2.id)] == [
            ("MN_PM012.pdf", (1,)), ("MN_PM012-full.pdf", (1,)), ("MN015-calculation.xlsx", (2,))]
    # Revised with other documents and other items: only those, and no binding to items that changed.
    tick(ctx.clock)
    v3 = proposals.revise(ctx, ref, SECRETARIAT, items=[proposals.Item("other", "Revised methodology")],
                          uploads=[Upload("MN_PM012-rev1.pdf", make.pdf(5, "rev1"), items=(1,))])
    with session_scope(engine) as s:
        assert [(x.name, x.pages, x.items) for x in documents.of_version(s, v3.id)] == [("MN_PM012-rev1.pdf", 5, (1,))]
    tick(ctx.clock)
    record_assertion(ctx, ref, "bat", "affirmative", channel="email", evidence_key="<b1@x>", actor="email:bat")
    assert [(r.member, r.version_id, r.documents) for r in rows(engine, AssertionRecord)] == [
        ("tanaka", current_version(engine, ref).id - 2, v1),
        ("bat", v3.id, [sha256_hex(make.pdf(5, "rev1"))])]
    # Revising the items but carrying the documents drops bindings to items that may mean something else now.
    tick(ctx.clock)
    v4 = proposals.revise(ctx, ref, SECRETARIAT, items=[proposals.Item("other", "A"), proposals.Item("other", "B")])
    with session_scope(engine) as s:
        assert [x.items for x in documents.of_version(s, v4.id)] == [()]


def test_verify_names_altered_missing_and_swapped_documents(ctx, engine, store_kind):
    committee(ctx)
    ref = proposals.draft(ctx, "japan-mongolia", "Approve", "Text.", ITEMS, SECRETARIAT, _uploads()).ref
    assert documents.verify(ctx) == (3, [])
    pm = sha256_hex(PM)
    if store_kind == "files":
        path = documents.blobs_for(ctx.settings).path(pm)  # type: ignore[attr-defined]
        os.chmod(path, 0o644)
        path.write_bytes(PM[:100] + bytes([PM[100] ^ 1]) + PM[101:])  # one bit flipped
    else:
        with engine.begin() as conn:
            conn.execute(text("UPDATE document_content SET content = :c WHERE sha256 = :s"), {"c": b"forged", "s": pm})
    n, problems = documents.verify(ctx)
    assert n == 3 and [(p.name, p.reason.split(":")[0]) for p in problems] == [("MN_PM012.pdf", "altered")]
    with pytest.raises(DocumentUnavailable, match="does not match its SHA-256"):
        documents.read(ctx, pm)
    # Distribution stops rather than send other bytes than the hashes name ...
    before = _all_counts(engine)
    with pytest.raises(ServiceError, match=r"MN_PM012.pdf \(SHA-256 [0-9a-f]{64}\) cannot be sent: its stored "
                                           r"content is altered.*attach the same file again"):
        proposals.distribute(ctx, ref, SECRETARIAT)
    assert _all_counts(engine) == before
    # ... and the same file brought again restores it.
    proposals.attach(ctx, ref, [Upload("MN_PM012.pdf", PM)], SECRETARIAT)
    assert [s for s, _ in _audit(engine, "document.restored")] == [f"document:{pm}"]
    assert documents.verify(ctx) == (3, [])
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)

    # A row edited so that a distributed version names another document is caught by the chain.
    with engine.begin() as conn:
        conn.execute(text("UPDATE document SET visibility = 'public' WHERE sha256 = :s"), {"s": sha256_hex(PM_FULL)})
        conn.execute(text("DELETE FROM proposal_document WHERE name = 'MN015-calculation.xlsx'"))
    _, problems = documents.verify(ctx)
    assert [p.name for p in problems] == ["MN_PM012-full.pdf", f"{ref} v1"]
    assert "differs from the audit chain's record" in problems[0].reason
    assert "carries other documents (MN_PM012.pdf, MN_PM012-full.pdf) than the 3 hash(es)" in problems[1].reason


def test_documents_already_stored_stay_readable_when_the_setting_changes(ctx, engine):
    committee(ctx)
    ctx.settings = Settings({**ctx.settings.values, "document_store": "files"})
    proposals.draft(ctx, "japan-mongolia", "A", "Text.", ITEMS, SECRETARIAT, [Upload("a.pdf", PM)])
    ctx.settings = Settings({**ctx.settings.values, "document_store": "database"})
    proposals.draft(ctx, "japan-mongolia", "B", "Text.", ITEMS, SECRETARIAT, [Upload("b.xlsx", CALC)])
    assert [(d.name, d.stored_in) for d in rows(engine, Document)] == [("a.pdf", "files"), ("b.xlsx", "database")]
    assert documents.read(ctx, sha256_hex(PM))[1] == PM
    assert documents.read(ctx, sha256_hex(CALC))[1] == CALC
    assert documents.verify(ctx) == (2, [])
    assert [(d.name, refs) for d, refs in documents.listing(ctx)] == [
        ("a.pdf", ["MN-P-2026-001 v1"]), ("b.xlsx", ["MN-P-2026-002 v1"])]
    assert len(rows(engine, ProposalDocument)) == 2


def test_the_size_limit_comes_from_the_settings(ctx, engine):
    committee(ctx)
    ctx.settings = Settings({**ctx.settings.values, "document_max_bytes": len(PM) - 1})
    before = _all_counts(engine)
    with pytest.raises(ServiceError, match=r"MN_PM012.pdf is .*; the limit is .*JCBOT_DOCUMENT_MAX_BYTES"):
        proposals.draft(ctx, "japan-mongolia", "A", "Text.", ITEMS, SECRETARIAT, [Upload("MN_PM012.pdf", PM)])
    assert _all_counts(engine) == before and _files(ctx) == []
