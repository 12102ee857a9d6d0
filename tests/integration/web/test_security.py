"""Hostile-input findings on the web: the same headers on every response, a CSP in the static copy,
and a sign-in answer that does not depend on whether the address is registered."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest
from markupsafe import escape
from sqlalchemy import text

from jcbot.publish.render import STATIC_CSP
from jcbot.publish.static import publish
from jcbot.services import signin
from jcbot.web.app import create_app
from jcbot.web.site import SECURITY_HEADERS
from tests.integration.services.helpers import committee

from .conftest import csrf_of, sign_in, signin_links


@pytest.mark.parametrize("path", ["/c/japan-mongolia/decisions.json", "/c/japan-mongolia/feed.atom", "/act/forged",
                                  "/healthz", "/c/nowhere/decisions.json", "/api/v1/openapi.json"])
async def test_json_atom_and_action_pages_carry_the_html_pages_headers(ctx, client, path):
    # Regression: these answered without a CSP, nosniff or a referrer policy.
    committee(ctx)
    answer = await client.get(path)
    for name, value in SECURITY_HEADERS.items():
        assert answer.headers.get(name) == value, (path, name)


async def test_a_page_keeps_the_headers_it_sets_itself(ctx, client):
    answer = await client.get("/act/forged")
    assert answer.headers["cache-control"] == "no-store" and answer.headers.get_list("content-security-policy") == [
        SECURITY_HEADERS["Content-Security-Policy"]]


def test_the_static_copy_carries_its_own_csp(ctx, tmp_path):
    committee(ctx)
    publish(ctx, tmp_path / "site", "https://jc.example/record/")
    meta = f'<meta http-equiv="Content-Security-Policy" content="{escape(STATIC_CSP)}">'
    pages = list((tmp_path / "site").rglob("*.html"))
    assert pages and all(meta in p.read_text() for p in pages)
    assert "script-src" not in STATIC_CSP and "default-src 'none'" in STATIC_CSP


async def test_live_pages_rely_on_the_header_not_a_meta_tag(ctx, client):
    assert 'http-equiv="Content-Security-Policy"' not in (await client.get("/")).text


async def asgi_post(app, path: str, form: dict, cookie: str, events: list[str]) -> bytes:
    """POST over raw ASGI, appending "answered" to `events` when the last body byte is sent."""
    body = urlencode(form).encode()
    chunks: list[bytes] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                events.append("answered")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "server": ("jc.example", 80), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"jc.example"), (b"content-type", b"application/x-www-form-urlencoded"),
                         (b"content-length", str(len(body)).encode()), (b"cookie", cookie.encode())]}
    await app(scope, receive, send)
    return b"".join(chunks)


async def test_signin_answers_before_looking_the_address_up(ctx, client, engine, monkeypatch):
    # Regression: a registered address answered 3-4x slower than an unknown one (the link was
    # enqueued before the answer), which told who is registered.
    committee(ctx)
    page = await client.get("/signin")
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    events: list[str] = []
    real = signin.request_link
    monkeypatch.setattr(signin, "request_link", lambda *a, **k: (events.append("looked up"), real(*a, **k))[1])
    app = create_app(ctx)
    bodies = []
    for email in ("bat@japan-mongolia.example", "stranger@example.org"):
        body = await asgi_post(app, "/signin", {"email": email, "csrf": csrf_of(page.text)}, cookie, events)
        bodies.append(body.decode().replace(email, "X"))
    assert events == ["answered", "looked up"] * 2  # each lookup after its answer was complete
    assert bodies[0] == bodies[1]
    assert len(signin_links(engine)) == 1


async def test_the_dashboard_lists_members_no_message_reaches(ctx, client, engine):
    # Regression: a co-chair with no email and no Slack, and the dashboard said "every message went out".
    committee(ctx)
    with engine.begin() as conn:
        conn.execute(text("UPDATE member SET email = NULL, slack_user_id = NULL WHERE handle = 'tanaka'"))
    await sign_in(client, engine, "bat@japan-mongolia.example")
    page = (await client.get("/dashboard")).text
    assert "No message reaches 1 member" in page and "Tanaka (tanaka, co-chair of the japan seat)" in page
    assert "the japan co-chair seat hears of nothing" in page and "every message went out" not in page
