"""/api/v1: a key per integration (stored hashed), committees, proposals, decisions, OpenAPI."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from jcbot.cli import app
from jcbot.cli.common import reset_context
from jcbot.services import apikeys
from jcbot.services import assertions, proposals
from jcbot.services.context import ServiceError
from jcbot.store.db import session_scope
from jcbot.store.web_models import ApiKey
from tests.integration.services.helpers import MN_DEADLINE, SECRETARIAT, committee, distributed, tick


@pytest.fixture
def key(ctx) -> str:
    return apikeys.create(ctx, "registry-sync", "test")[1]


def adopted_and_open(ctx) -> tuple[str, str]:
    committee(ctx)
    adopted = distributed(ctx, title="Approve MN_AM001")
    for h in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        assertions.record_assertion(ctx, adopted, h, "affirmative", channel="web", evidence_key=h, actor=SECRETARIAT)
    still_open = distributed(ctx, title="Register MN002", at=ctx.clock.now())
    return adopted, still_open


async def test_requests_without_a_valid_key_are_refused(ctx, client, key):
    for headers in ({}, {"X-API-Key": "jcbot_wrong"}, {"X-API-Key": key + "x"}, {"Authorization": f"Bearer {key}"}):
        r = await client.get("/api/v1/committees", headers=headers)
        assert r.status_code == 401 and "X-API-Key" in r.json()["detail"], headers
    apikeys.revoke(ctx, "registry-sync", "test")
    assert (await client.get("/api/v1/committees", headers={"X-API-Key": key})).status_code == 401


async def test_committees_proposals_and_decisions(ctx, client, key):
    adopted, still_open = adopted_and_open(ctx)
    h = {"X-API-Key": key}
    [c] = (await client.get("/api/v1/committees", headers=h)).json()
    assert c == {"slug": "japan-mongolia", "name": "Japan-Mongolia Joint Committee", "host_country": "Mongolia",
                 "code": "MN", "timezone": "Asia/Ulaanbaatar", "objection_period_days": 20}
    assert (await client.get("/api/v1/committees/japan-mongolia", headers=h)).json() == c
    listed = (await client.get("/api/v1/proposals", headers=h)).json()
    assert [p["ref"] for p in listed] == [still_open, adopted]
    op = (await client.get(f"/api/v1/proposals/{still_open}", headers=h)).json()
    assert (op["status"], op["decision"]) == ("open", None)
    assert op["deadline"] == MN_DEADLINE.isoformat().replace("+00:00", "Z")
    assert op["items"][0] == {"kind": "methodology_approval", "title": "Energy-efficient transformers", "reference": None}
    ad = (await client.get(f"/api/v1/proposals/{adopted}", headers=h)).json()
    assert (ad["status"], ad["basis"], ad["decision"]) == ("adopted", "unanimous", "MN-2026-001")
    only_open = (await client.get("/api/v1/proposals", params={"status": "open", "committee": "japan-mongolia"}, headers=h))
    assert [p["ref"] for p in only_open.json()] == [still_open]
    [d] = (await client.get("/api/v1/decisions", headers=h)).json()
    assert (d["number"], d["basis_text"]) == ("MN-2026-001", "Electronic decision: unanimous")
    assert d["items"][0]["reference"] == "MN_AM001"
    assert d["audit_hash"] and len(d["audit_hash"]) == 64
    assert (await client.get("/api/v1/decisions/MN-2026-001", headers=h)).json() == d


async def test_unknown_things_and_bad_filters(ctx, client, key):
    committee(ctx)
    h = {"X-API-Key": key}
    for path in ("/api/v1/committees/nowhere", "/api/v1/proposals/MN-P-1999-001", "/api/v1/decisions/MN-1999-001",
                 "/api/v1/decisions?committee=nowhere"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404 and "no " in r.json()["detail"], path
    bad = await client.get("/api/v1/proposals", params={"status": "maybe"}, headers=h)
    assert bad.status_code == 422


async def test_openapi_describes_only_the_api(client):
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert set(spec["paths"]) == {"/api/v1/committees", "/api/v1/committees/{slug}", "/api/v1/proposals",
                                  "/api/v1/proposals/{ref}", "/api/v1/decisions", "/api/v1/decisions/{number}",
                                  "/api/v1/proposals/{ref}/distribute", "/api/v1/proposals/{ref}/withdraw",
                                  "/api/v1/proposals/{ref}/letters"}
    assert spec["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "The integration's key, from `jcbot apikey create NAME`."}
    assert "ProposalOut" in spec["components"]["schemas"]


def test_keys_are_stored_hashed_and_names_are_unique(ctx, engine, key):
    with session_scope(engine) as s:
        row = s.scalars(select(ApiKey)).one()
    assert key not in (row.key_hash, row.prefix) and row.key_hash == apikeys.digest(key)
    with pytest.raises(ServiceError, match="already exists"):
        apikeys.create(ctx, "registry-sync", "test")
    with pytest.raises(ServiceError, match="use lower-case letters"):
        apikeys.create(ctx, "Bad Name", "test")
    with pytest.raises(ServiceError, match="no API key named"):
        apikeys.revoke(ctx, "nothing", "test")


def test_apikey_cli(db_url, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("JCBOT_DATABASE_URL", db_url)
    monkeypatch.setenv("JCBOT_STORAGE_DIR", str(tmp_path / "cli"))
    monkeypatch.chdir(tmp_path)
    reset_context()
    try:
        run = CliRunner()
        created = run.invoke(app, ["apikey", "create", "registry-sync"])
        assert created.exit_code == 0, created.output
        key = created.output.strip().splitlines()[-1]
        assert key.startswith("jcbot_")
        with session_scope(engine) as s:
            assert apikeys.check(s, key).name == "registry-sync"
        again = run.invoke(app, ["apikey", "create", "registry-sync"])
        assert again.exit_code == 2 and "already exists" in again.stderr
        listed = run.invoke(app, ["apikey", "list"])
        assert "registry-sync" in listed.output and key[:12] + "..." in listed.output and key not in listed.output
        assert run.invoke(app, ["apikey", "revoke", "registry-sync"]).exit_code == 0
        scoped = run.invoke(app, ["apikey", "create", "drafts", "--scope", "draft", "--scope", "distribute"])
        assert scoped.exit_code == 0 and "scopes draft, distribute on every committee" in scoped.output
        with session_scope(engine) as s:
            row = apikeys.check(s, scoped.output.strip().splitlines()[-1])
            assert (row.scopes, row.committees) == ("draft distribute", None)
        wrong = run.invoke(app, ["apikey", "create", "other", "--scope", "admin"])
        assert wrong.exit_code == 2 and "scope 'admin'" in wrong.stderr
        nowhere = run.invoke(app, ["apikey", "create", "other", "--scope", "draft", "--committee", "nowhere"])
        assert nowhere.exit_code == 2 and "no committee 'nowhere'" in nowhere.stderr
        with session_scope(engine) as s:
            assert apikeys.check(s, key) is None
    finally:
        reset_context()


async def test_drafts_are_listed_with_status_draft_and_no_deadline(ctx, client, key):
    committee(ctx)
    p = proposals.draft(ctx, "japan-mongolia", "A draft", "Text.", [proposals.Item("other", "Something")], SECRETARIAT)
    [listed] = (await client.get("/api/v1/proposals", params={"status": "draft"}, headers={"X-API-Key": key})).json()
    assert (listed["ref"], listed["status"], listed["deadline"], listed["distributed_at"]) == (p.ref, "draft", None, None)


async def test_a_proposal_past_its_deadline_shows_the_computed_status_before_any_sweep(ctx, client, key):
    # Both co-chair seats affirm and nobody objects: at the deadline the proposal is adopted,
    # and the API says so at once, as Slack, the dashboard and the CLI do, not a sweep later.
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    for h in ("tanaka", "bat"):
        assertions.record_assertion(ctx, ref, h, "affirmative", channel="web", evidence_key=h, actor=SECRETARIAT)
    h = {"X-API-Key": key}
    before = (await client.get(f"/api/v1/proposals/{ref}", headers=h)).json()
    assert (before["status"], before["adopted_at"]) == ("open", None)
    ctx.clock.set(MN_DEADLINE)
    after = (await client.get(f"/api/v1/proposals/{ref}", headers=h)).json()
    assert (after["status"], after["basis"]) == ("adopted", "no_objection")
    assert after["adopted_at"] == MN_DEADLINE.isoformat().replace("+00:00", "Z")
    assert after["decision"] is None  # numbered when the adoption is recorded
    listed = (await client.get("/api/v1/proposals", params={"status": "adopted"}, headers=h)).json()
    assert [p["ref"] for p in listed] == [ref]
    assert (await client.get("/api/v1/proposals", params={"status": "open"}, headers=h)).json() == []
