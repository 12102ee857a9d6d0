"""jcbot.services.case_documents: the secretariat adds a document to an open case, one transaction, audited."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text

from jcbot.services import case_documents, cases, proposals
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.services.documents import Upload
from jcbot.services.roster import add_secretariat
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope

from support.documents import pdf

from .helpers import SECRETARIAT, audit_actions, committee, counts, rows, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

SLUG = "japan-mongolia"


def _everything(engine) -> dict[str, int]:
    with session_scope(engine) as s:
        extra = {t: s.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                 for t in ("case", "case_event", "case_document", "document")}
    return counts(engine) | extra


def _case(ctx):
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
    return cases.submit(ctx, SLUG, "methodology", "Transformers", "pp@proponent.example",
                        [Upload("methodology.pdf", pdf(text="public"), "public")], SECRETARIAT)


def test_a_document_is_added_with_its_audit_event_and_once(ctx, engine):
    case = _case(ctx)
    annex = pdf(2, "annex")
    [added] = case_documents.attach(ctx, case.ref, [Upload("annex.pdf", annex, "confidential")], SECRETARIAT)
    assert (added.name, added.visibility) == ("annex.pdf", "confidential")
    assert [(cd.name, d.visibility) for cd, d in cases.show(ctx, case.ref).documents] == [
        ("methodology.pdf", "public"), ("annex.pdf", "confidential")]
    assert audit_actions(engine)[-2:] == ["document.stored", "case.document_added"]
    [ev] = rows(engine, AuditEvent, AuditEvent.action == "case.document_added")
    data = ev.data if isinstance(ev.data, dict) else json.loads(ev.data)
    assert ev.subject == f"case:{case.ref}" and data == {"name": "annex.pdf", "sha256": added.sha256,
                                                         "visibility": "confidential"}
    before = _everything(engine)
    assert case_documents.attach(ctx, case.ref, [Upload("annex.pdf", annex, "confidential")], SECRETARIAT) == []
    assert _everything(engine) == before


def test_refusals_change_nothing(ctx, engine):
    case = _case(ctx)
    before = _everything(engine)
    with pytest.raises(ServiceError, match="another file named methodology.pdf"):
        case_documents.attach(ctx, case.ref, [Upload("methodology.pdf", pdf(text="v2"), "public")], SECRETARIAT)
    with pytest.raises(ServiceError, match="under another name"):
        case_documents.attach(ctx, case.ref, [Upload("again.pdf", pdf(text="public"), "public")], SECRETARIAT)
    with pytest.raises(ServiceError, match="visibility must be public or confidential"):
        case_documents.attach(ctx, case.ref, [Upload("a.pdf", pdf(text="a"), "secret")], SECRETARIAT)
    with pytest.raises(ServiceError, match="no case"):
        case_documents.attach(ctx, "MN-C-2026-999", [Upload("a.pdf", pdf(text="a"), "public")], SECRETARIAT)
    # Two files, the second refused: the first is not kept either.
    with pytest.raises(ServiceError):
        case_documents.attach(ctx, case.ref, [Upload("ok.pdf", pdf(text="ok"), "public"),
                                              Upload("bad.pdf", b"not a pdf", "public")], SECRETARIAT)
    assert _everything(engine) == before


def test_no_document_while_a_proposal_carries_the_case_nor_once_it_is_decided(ctx, engine):
    case = _case(ctx)
    tick(ctx.clock, 60)
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    ctx.clock.advance(timedelta(days=17))
    p = cases.propose(ctx, [case.ref], SECRETARIAT)
    late = [Upload("late.pdf", pdf(text="late"), "public")]
    before = _everything(engine)
    with pytest.raises(ServiceError, match=f"is carried by {p.ref} \\(draft\\)"):
        case_documents.attach(ctx, case.ref, late, SECRETARIAT)
    assert _everything(engine) == before
    tick(ctx.clock)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    for m in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        record_assertion(ctx, p.ref, m, "affirmative", channel="slack", evidence_key=f"{p.ref}:{m}", actor="slack")
    assert cases.show(ctx, case.ref).view.state == "approved"
    before = _everything(engine)
    with pytest.raises(ServiceError, match="is approved: its documents are those the Joint Committee decided on"):
        case_documents.attach(ctx, case.ref, late, SECRETARIAT)
    assert _everything(engine) == before
