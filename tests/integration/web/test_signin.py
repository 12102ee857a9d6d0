"""Sign-in by emailed link: single use, short-lived, confirmed by a button, never revealing who is registered."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from jcbot.services import roster
from jcbot.store.db import session_scope
from jcbot.store.outbox import OutboxMessage
from jcbot.store.web_models import SigninToken, WebSession
from tests.integration.services.helpers import committee

from .conftest import BASE, add_secretariat, csrf_of, sign_in, signin_links, web_context


def rows(engine, model) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


async def request_link(client, email: str):
    page = await client.get("/signin")
    return await client.post("/signin", data={"email": email, "csrf": csrf_of(page.text)})


async def test_the_whole_flow_ends_on_the_dashboard_with_a_safe_cookie(ctx, client, engine):
    committee(ctx)
    assert (await client.get("/dashboard")).headers["location"] == "/signin"
    sent = await request_link(client, "Tanaka@Japan-Mongolia.example ")  # case and spaces do not matter
    assert "a sign-in link is on its way" in sent.text
    [link] = signin_links(engine)
    assert link.startswith(f"{BASE}/signin/") and len(link) > len(BASE) + 40
    with session_scope(engine) as s:
        row = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "signin")).one()
        token = s.scalars(select(SigninToken)).one()
    assert (row.channel, row.recipient) == ("email", "tanaka@japan-mongolia.example")
    assert link.rsplit("/", 1)[1] not in token.token_hash  # only a hash is stored
    assert token.expires_at - token.created_at == timedelta(minutes=15)
    path = link.removeprefix(BASE)
    # Opening the link (what a mail scanner does) signs nobody in.
    page = await client.get(path)
    assert page.status_code == 200 and '<button type="submit">Sign in</button>' in page.text
    assert rows(engine, WebSession) == 0
    done = await client.post(path, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("jcbot_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 200 and "Signed in as Tanaka (tanaka@japan-mongolia.example)" in dashboard.text
    # Single use: the same link again is refused, and opens no second session.
    fresh = await client.get(path)
    assert fresh.status_code == 410 and "already used" in fresh.text
    again = await client.post(path, data={"csrf": csrf_of(page.text)})
    assert again.status_code == 410 and rows(engine, WebSession) == 1


async def test_an_unregistered_address_gets_the_same_answer_and_no_mail(ctx, client, engine):
    committee(ctx)
    known = await request_link(client, "bat@japan-mongolia.example")
    unknown = await request_link(client, "stranger@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("bat@japan-mongolia.example", "X") == unknown.text.replace("stranger@example.org", "X")
    assert len(signin_links(engine)) == 1 and rows(engine, SigninToken) == 1


async def test_a_member_who_left_gets_no_link(ctx, client, engine):
    committee(ctx)
    roster.remove_member(ctx, "japan-mongolia", "suzuki", "test")
    await request_link(client, "suzuki@japan-mongolia.example")
    assert signin_links(engine) == []


async def test_links_expire_after_15_minutes(ctx, client, engine, clock):
    committee(ctx)
    await request_link(client, "bat@japan-mongolia.example")
    path = signin_links(engine)[0].removeprefix(BASE)
    page = await client.get(path)
    clock.advance(timedelta(minutes=15))
    late = await client.post(path, data={"csrf": csrf_of(page.text)})
    assert late.status_code == 410 and rows(engine, WebSession) == 0
    assert (await client.get(path)).status_code == 410


async def test_requests_without_the_form_token_change_nothing(ctx, client, engine):
    committee(ctx)
    await client.get("/signin")
    refused = await client.post("/signin", data={"email": "bat@japan-mongolia.example", "csrf": "0" * 64})
    assert refused.status_code == 400 and "The form expired" in refused.text
    assert signin_links(engine) == []
    bad = await request_link(client, "not an address")
    assert bad.status_code == 400 and "Enter an email address" in bad.text


async def test_no_more_than_three_open_links_per_address(ctx, client, engine):
    committee(ctx)
    for _ in range(5):
        await request_link(client, "bat@japan-mongolia.example")
    assert len(signin_links(engine)) == 3


async def test_the_secretariat_signs_in_too(ctx, client, engine):
    committee(ctx)
    add_secretariat(engine, "Alice of the secretariat", "alice@gec.example")
    await sign_in(client, engine, "alice@gec.example")
    page = await client.get("/dashboard")
    assert "Alice of the secretariat" in page.text and "as its secretariat" in page.text


async def test_sign_out_ends_the_session_for_good(ctx, client, engine):
    committee(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    stolen = client.cookies.get("jcbot_session")
    page = await client.get("/dashboard")
    out = await client.post("/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/signin"
    client.cookies.set("jcbot_session", stolen)  # a copy of the old cookie is worthless now
    assert (await client.get("/dashboard")).status_code == 303


async def test_sessions_last_twelve_hours_and_forged_cookies_are_ignored(ctx, client, engine, clock):
    committee(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    clock.advance(timedelta(hours=11))
    assert (await client.get("/dashboard")).status_code == 200
    clock.advance(timedelta(hours=1))
    assert (await client.get("/dashboard")).status_code == 303
    client.cookies.set("jcbot_session", "forged.value")
    assert (await client.get("/dashboard")).status_code == 303


async def test_cookies_are_secure_when_the_public_url_is_https(engine, clock, tmp_path):
    import httpx

    from jcbot.web.app import create_app

    ctx = web_context(engine, clock, tmp_path / "s", public_url="https://jc.example")
    committee(ctx)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url="https://jc.example") as c:
        page = await c.get("/signin")
        assert "Secure" in page.headers["set-cookie"]
        await c.post("/signin", data={"email": "bat@japan-mongolia.example", "csrf": csrf_of(page.text)})
        path = signin_links(engine)[0].removeprefix("https://jc.example")
        confirm = await c.get(path)
        done = await c.post(path, data={"csrf": csrf_of(confirm.text)})
        cookie = next(h for h in done.headers.get_list("set-cookie") if h.startswith("jcbot_session="))
        assert "Secure" in cookie and "HttpOnly" in cookie
