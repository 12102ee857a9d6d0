"""A fresh `jcbot serve` loads its pages and API on their first request, and answers it as the full app does.

`jcbot serve` answers /healthz itself and builds the FastAPI app (routers, Jinja,
templates) when the first other request comes (jcbot.web.front). Each case starts a
served process on a new database, makes the first request of one part (public record,
dashboard, API, several at once), and compares the answers with the full app's
(create_app over ASGI) on the same database.
"""
from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from jcbot import __version__
from jcbot.app import build_context
from jcbot.services import apikeys
from jcbot.settings import load_settings
from jcbot.store.db import session_scope
from jcbot.store.models import Secretariat
from jcbot.web.app import create_app
from jcbot.web.headers import SECURITY_HEADERS
from tests.e2e.serve_helpers import free_http_port, prepare, serve_env, start_serve
from tests.integration.web.conftest import csrf_of, signin_links

pytestmark = pytest.mark.slow

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _served_db(tmp_path, smtp_server):
    """The environment of a served jcbot, with a committee, a distributed proposal, a secretariat and an API key."""
    env = serve_env(tmp_path, smtp_server.port, free_http_port())
    ref = prepare(env, datetime.now(UTC) - timedelta(hours=1))
    ctx = build_context(load_settings(env=env, dotenv=None))
    with session_scope(ctx.engine) as s:
        s.add(Secretariat(name="Secretariat", email="sec@jc.example"))
    _, key = apikeys.create(ctx, "lazy-check", "test")
    return env, ctx, ref, key


async def _answers(client: httpx.AsyncClient, ref: str, key: str) -> dict:
    """What the pages, the API and the error answers say; only what does not change between two requests."""
    api = {"X-API-Key": key}
    out = {}
    for name, path, headers in [
        ("index", "/", HTML), ("committee", "/c/test-jc/", HTML), ("feed", "/c/test-jc/feed.atom", {}),
        ("api committees", "/api/v1/committees", api), ("api proposal", f"/api/v1/proposals/{ref}", api),
        ("api no key", "/api/v1/committees", {}), ("missing page", "/no/such/page", HTML),
        ("missing json", "/no/such/page", {}), ("dashboard signed out", "/dashboard", HTML),
        ("healthz head", "/healthz", None),
    ]:
        if headers is None:
            r = await client.head(path)
        else:
            r = await client.get(path, headers=headers, follow_redirects=False)
        out[name] = (r.status_code, r.headers.get("content-type"), r.headers.get("location"), r.text,
                     {h: r.headers.get(h) for h in SECURITY_HEADERS})
    return out


async def _reference(ctx, ref: str, key: str) -> dict:
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url=ctx.settings.public_url) as client:
        return await _answers(client, ref, key)


async def _sign_in_and_see_the_dashboard(client: httpx.AsyncClient, ctx, ref: str) -> str:
    page = await client.get("/signin", headers=HTML)
    sent = await client.post("/signin", data={"email": "sec@jc.example", "csrf": csrf_of(page.text)}, headers=HTML)
    assert sent.status_code == 200, sent.text
    for _ in range(100):  # the link is enqueued after the answer (the same time for any address)
        links = signin_links(ctx.engine)
        if links:
            break
        await asyncio.sleep(0.1)
    path = "/" + links[-1].split("/", 3)[3]
    confirm = await client.get(path, headers=HTML)
    assert confirm.status_code == 200 and "Confirm sign-in" in confirm.text
    done = await client.post(path, data={"csrf": csrf_of(confirm.text)}, headers=HTML)
    assert done.status_code == 303 and done.headers["location"] == "/dashboard", done.text
    dashboard = await client.get("/dashboard", headers=HTML)
    assert dashboard.status_code == 200, dashboard.text
    return dashboard.text


@pytest.mark.parametrize("first", ["public", "dashboard", "api", "together"])
def test_a_fresh_serve_answers_its_first_page_and_api_requests_as_the_full_app(tmp_path, smtp_server, first):
    env, ctx, ref, key = _served_db(tmp_path, smtp_server)
    expected = asyncio.run(_reference(ctx, ref, key))
    served = start_serve(env, tmp_path / "serve.log")

    async def check() -> None:
        base = f"http://127.0.0.1:{served.port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            health = await client.get("/healthz")
            assert health.status_code == 200 and health.headers["content-type"] == "application/json"
            assert json.loads(health.text) in ({"status": "ok", "version": __version__, "role": role}
                                               for role in ("leader", "follower"))
            assert all(health.headers[h] == v for h, v in SECURITY_HEADERS.items())
            # The first request of one part: the full app is built for it, and it answers as it would have.
            if first == "public":
                r = await client.get("/", headers=HTML)
                assert r.status_code == 200 and "Test Joint Committee" in r.text
            elif first == "dashboard":
                assert ref in await _sign_in_and_see_the_dashboard(client, ctx, ref)
            elif first == "api":
                r = await client.get(f"/api/v1/proposals/{ref}", headers={"X-API-Key": key})
                assert r.status_code == 200 and r.json()["ref"] == ref
            else:  # several first requests at once: one build, every one answered
                paths = ["/", "/c/test-jc/", "/dashboard"] * 3
                rs = await asyncio.gather(*[client.get(p, headers=HTML) for p in paths],
                                          client.get("/api/v1/committees", headers={"X-API-Key": key}))
                signed_out = expected["dashboard signed out"][0]
                assert [r.status_code for r in rs] == [200, 200, signed_out] * 3 + [200]
                assert rs[0].text == expected["index"][3] and rs[-1].text == expected["api committees"][3]
            async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:  # no cookies of a signed-in client
                assert await _answers(fresh, ref, key) == expected
            if first != "dashboard":
                assert ref in await _sign_in_and_see_the_dashboard(client, ctx, ref)
            # /healthz answers the same once the full app is there.
            again = await client.get("/healthz")
            assert (again.status_code, again.text) == (200, health.text)
            assert [h for h in again.headers.multi_items() if h[0] != "date"] == \
                [h for h in health.headers.multi_items() if h[0] != "date"]

    try:
        asyncio.run(check())
    finally:
        assert served.stop() == 0, (tmp_path / "serve.log").read_text()
        ctx.engine.dispose()
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log
