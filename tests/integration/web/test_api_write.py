"""/api/v1 writes: scoped keys per committee, one service call audited as api:NAME, idempotency keys,
RFC 9457 problem details, and an OpenAPI description that covers every route."""
from __future__ import annotations

import json

from fastapi.routing import APIRoute
from sqlalchemy import select

from jcbot.services import apikeys, queries, roster
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Proposal
from jcbot.web import api
from tests.integration.services.helpers import SECRETARIAT, committee, recipients, rules_text, tick

DRAFT = {"committee": "japan-mongolia", "title": "Approve MN_AM001", "text": "The Joint Committee approves MN_AM001.",
         "items": [{"kind": "methodology_approval", "title": "Energy-efficient transformers", "reference": "MN_AM001"}]}


def problem(r, status: int, type_: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    if type_:
        assert body["type"] == f"urn:jcbot:problem:{type_}", body
    return body


def proposals_count(engine) -> int:
    with session_scope(engine) as s:
        return len(s.scalars(select(Proposal)).all())


async def test_draft_and_distribute_with_a_scoped_key_once_per_idempotency_key(ctx, client, engine):
    committee(ctx)
    key = apikeys.create(ctx, "registry-sync", "test", ["draft", "distribute"], ["japan-mongolia"])[1]
    h = {"X-API-Key": key, "Idempotency-Key": "draft-7f3c"}
    first = await client.post("/api/v1/proposals", json=DRAFT, headers=h)
    assert first.status_code == 201, first.text
    ref = first.json()["ref"]
    assert (first.json()["status"], first.json()["items"][0]["reference"]) == ("draft", "MN_AM001")
    # The retry (a timeout, a restart of the caller): the same answer, one proposal.
    again = await client.post("/api/v1/proposals", json=DRAFT, headers=h)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert proposals_count(engine) == 1
    # The same key with another body: refused, nothing done.
    other = await client.post("/api/v1/proposals", json=DRAFT | {"title": "Something else"}, headers=h)
    problem(other, 422, "idempotency-key-reused")
    assert proposals_count(engine) == 1
    # Another key for another request acts.
    second = await client.post("/api/v1/proposals", json=DRAFT, headers=h | {"Idempotency-Key": "draft-8a01"})
    assert second.status_code == 201 and second.json()["ref"] != ref and proposals_count(engine) == 2

    tick(ctx.clock)
    dist = await client.post(f"/api/v1/proposals/{ref}/distribute", headers=h | {"Idempotency-Key": "dist-1"})
    assert dist.status_code == 200, dist.text
    assert dist.json()["status"] == "open" and dist.json()["deadline"]
    assert len(recipients(engine, "distribution")) == 6
    retried = await client.post(f"/api/v1/proposals/{ref}/distribute", headers=h | {"Idempotency-Key": "dist-1"})
    assert retried.json() == dist.json() and len(recipients(engine, "distribution")) == 6
    # Without an idempotency key a repeat is refused by the service, as problem details.
    twice = problem(await client.post(f"/api/v1/proposals/{ref}/distribute", headers={"X-API-Key": key}), 409,
                    "refused")
    assert "already distributed" in twice["detail"]

    with session_scope(engine) as s:
        events = {e.action: e for e in s.scalars(select(AuditEvent).where(AuditEvent.subject == f"proposal:{ref}"))}
    assert events["proposal.drafted"].actor == "api:registry-sync"
    assert events["proposal.distributed"].actor == "api:registry-sync"
    assert json.loads(events["proposal.distributed"].data)["by"] == "secretariat on behalf of the co-chairs"


async def test_a_key_lacking_the_scope_or_the_committee_is_refused(ctx, client, engine):
    committee(ctx)
    text, source = rules_text("japan-mongolia")
    roster.create_committee(ctx, "japan-vietnam", text.replace("Mongolia", "Viet Nam").replace("code: MN", "code: VN"),
                            source, SECRETARIAT)
    reader = apikeys.create(ctx, "reader", "test")[1]  # read only, every committee (as keys made before scopes)
    drafter = apikeys.create(ctx, "drafter", "test", ["draft"], ["japan-vietnam"])[1]
    before = proposals_count(engine)
    body = problem(await client.post("/api/v1/proposals", json=DRAFT, headers={"X-API-Key": reader}), 403,
                   "missing-scope")
    assert "lacks the 'draft' scope" in body["detail"]
    body = problem(await client.post("/api/v1/proposals", json=DRAFT, headers={"X-API-Key": drafter}), 403,
                   "committee-not-allowed")
    assert "may not act on committee 'japan-mongolia'" in body["detail"]
    assert proposals_count(engine) == before
    # A drafter of one committee cannot distribute there, nor read (no read scope).
    ok = await client.post("/api/v1/proposals", json=DRAFT | {"committee": "japan-vietnam"}, headers={"X-API-Key": drafter})
    assert ok.status_code == 201, ok.text
    problem(await client.post(f"/api/v1/proposals/{ok.json()['ref']}/distribute", headers={"X-API-Key": drafter}),
            403, "missing-scope")
    problem(await client.get("/api/v1/committees", headers={"X-API-Key": drafter}), 403, "missing-scope")
    assert (await client.get("/api/v1/committees", headers={"X-API-Key": reader})).status_code == 200
    # Unknown key, unknown proposal, invalid body: problem details too.
    assert problem(await client.post("/api/v1/proposals", json=DRAFT), 401)["type"] == "about:blank"
    problem(await client.post("/api/v1/proposals/MN-P-1999-001/distribute", headers={"X-API-Key": reader}), 404)
    invalid = problem(await client.post("/api/v1/proposals", json={"committee": "japan-vietnam"},
                                        headers={"X-API-Key": drafter}), 422, "invalid")
    assert "title" in invalid["detail"] and invalid["errors"]
    bad_kind = DRAFT | {"committee": "japan-vietnam", "items": [{"kind": "nonsense", "title": "x"}]}
    problem(await client.post("/api/v1/proposals", json=bad_kind, headers={"X-API-Key": drafter}), 422, "invalid")


async def test_withdraw_and_record_a_letter(ctx, client, engine):
    committee(ctx)
    key = apikeys.create(ctx, "registry-sync", "test", ["draft", "distribute", "record"])[1]
    h = {"X-API-Key": key}
    ref = (await client.post("/api/v1/proposals", json=DRAFT, headers=h)).json()["ref"]
    await client.post(f"/api/v1/proposals/{ref}/distribute", headers=h)
    tick(ctx.clock)
    letter = {"member": "dorj", "position": "negative", "opinion": "Not yet.", "note": "letter of 4 March, by post"}
    done = await client.post(f"/api/v1/proposals/{ref}/letters", json=letter, headers=h | {"Idempotency-Key": "l-1"})
    assert done.status_code == 201 and done.json()["duplicate"] is False, done.text
    again = await client.post(f"/api/v1/proposals/{ref}/letters", json=letter, headers=h)  # no key: the same letter
    assert again.json()["duplicate"] is True
    with session_scope(engine) as s:
        [a] = s.scalars(select(AssertionRecord)).all()
    assert (a.member, a.position, a.channel, a.recorded_by) == ("dorj", "negative", "letter", "api:registry-sync")
    assert {"tanaka", "bat"} <= set(recipients(engine, "escalation"))
    refused = problem(await client.post(f"/api/v1/proposals/{ref}/letters", json=letter | {"opinion": None,
                                                                                          "note": "another"},
                                        headers=h), 409, "refused")
    assert "opinion" in refused["detail"]
    gone = await client.post(f"/api/v1/proposals/{ref}/withdraw", json={"note": "to be redrafted"}, headers=h)
    assert gone.status_code == 200 and gone.json()["status"] == "withdrawn"
    assert queries.show(ctx, ref).version.status == "withdrawn"


async def test_the_openapi_description_covers_every_route_with_problem_details(ctx, client):
    spec = (await client.get("/api/v1/openapi.json")).json()
    routes = {(r.path, m.lower()) for r in api.router(ctx).routes if isinstance(r, APIRoute) for m in r.methods}
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == routes and len(routes) == 10
    assert spec["components"]["schemas"]["ProblemDetails"]["required"] == ["type", "title", "status", "detail"]
    for path, method in described:
        op = spec["paths"][path][method]
        assert op.get("summary"), (path, method)
        for status in ("401", "403", "404", "422"):
            content = op["responses"][status]["content"]
            assert content == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}}
        if method == "post":
            assert "409" in op["responses"], path
            assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in op["parameters"]), path
    for path in ("/api/v1/proposals", "/api/v1/proposals/{ref}/letters"):
        assert spec["paths"][path]["post"]["requestBody"]["required"] is True
