"""The co-chairs' action links: GET confirms and changes nothing, POST acts, once."""
from __future__ import annotations

import httpx
import pytest

from jcbot.actionlinks import action_url, make_action_token, read_action_token, ActionLinkError
from jcbot.channels.email.compose import reply_secret
from jcbot.services import assertions
from jcbot.web.app import create_app

from tests.integration.services.helpers import committee, count, ctx, clock, current_version, distributed, engine  # noqa: F401
from jcbot.store.audit import AuditEvent


def _client(ctx):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="http://jc.test")


def _token(ctx, ref, member, action, version=1):
    return make_action_token(reply_secret(ctx.settings), ref, version, member, action)


def test_a_link_is_signed_and_names_its_action(ctx):
    secret = reply_secret(ctx.settings)
    url = action_url("https://jc.example/", secret, "MN-P-2026-001", 1, "tanaka", "withdraw")
    assert url.startswith("https://jc.example/act/")
    claim = read_action_token(secret, url.rsplit("/", 1)[1])
    assert (claim.ref, claim.version, claim.member, claim.action) == ("MN-P-2026-001", 1, "tanaka", "withdraw")
    with pytest.raises(ActionLinkError, match="not valid"):
        read_action_token(b"another secret", url.rsplit("/", 1)[1])


async def test_get_changes_nothing_and_post_withdraws_once(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    assertions.record_assertion(ctx, ref, "dorj", "negative", channel="web", evidence_key="n1", actor="t", opinion="baseline too high")
    token = _token(ctx, ref, "tanaka", "withdraw")
    before = count(engine, AuditEvent)
    async with _client(ctx) as client:
        page = await client.get(f"/act/{token}")
        assert page.status_code == 200
        assert "Withdraw the proposal" in page.text and "<form method=\"post\">" in page.text
        # Members by name, never by handle; in the site's layout (its stylesheet, no inline style the CSP blocks).
        assert "Objections from</dt>\n  <dd>Dorj</dd>" in page.text and "You, Tanaka, are about to" in page.text
        assert "dorj" not in page.text and "tanaka" not in page.text
        assert '<link rel="stylesheet" href="/static/site.css">' in page.text and "<style" not in page.text
        assert '<main id="main"' in page.text and page.headers["x-robots-tag"] == "noindex"
        assert count(engine, AuditEvent) == before and current_version(engine, ref).status == "objected"
        done = await client.post(f"/act/{token}", data={"note": "to be redrafted"})
        assert done.status_code == 200 and "Done" in done.text
        # The result takes the focus when the page loads, so a screen reader reads it (no script needed).
        assert 'role="status" tabindex="-1" autofocus data-result>Done: withdraw the proposal' in done.text
        assert current_version(engine, ref).status == "withdrawn"
        again = await client.post(f"/act/{token}")
        assert again.status_code == 409 and "withdrawn" in again.text
        assert 'class="notice error" id="result" role="alert" tabindex="-1" autofocus' in again.text


async def test_a_forged_link_or_a_member_without_a_seat_changes_nothing(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    async with _client(ctx) as client:
        forged = await client.post(f"/act/{_token(ctx, ref, 'tanaka', 'withdraw')[:-3]}xyz")
        assert forged.status_code == 400 and "not valid" in forged.text
        member = await client.post(f"/act/{_token(ctx, ref, 'suzuki', 'refer')}")
        assert member.status_code == 409 and "neither a co-chair nor an active alternate" in member.text
    assert current_version(engine, ref).status == "open"


async def test_leave_open_is_recorded_and_keeps_the_proposal_open(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    async with _client(ctx) as client:
        done = await client.post(f"/act/{_token(ctx, ref, 'dorj', 'leave_open')}")  # bat's alternate
    assert done.status_code == 200
    assert current_version(engine, ref).status == "open"
    from jcbot.store.db import session_scope
    from sqlalchemy import select

    with session_scope(engine) as s:
        actions = list(s.scalars(select(AuditEvent.action)))
    assert "proposal.left_open" in actions
