"""`jcbot serve`'s front (jcbot.web.front): /healthz as the full app answers it, everything else by the full app, built once."""
from __future__ import annotations

import asyncio

import httpx

from jcbot.web.app import create_app
from jcbot.web.front import Front
from tests.integration.web.conftest import BASE


class _Role:
    role = "leader"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE)


async def _get(app, path: str, method: str = "GET", **headers: str) -> httpx.Response:
    async with _client(app) as c:
        return await c.request(method, path, headers=headers)


async def test_healthz_is_answered_by_the_front_with_the_full_apps_body_and_headers(ctx):
    front = Front(ctx)
    front.state.leadership = _Role()
    full = create_app(ctx)
    full.state.leadership = _Role()
    mine, theirs = await _get(front, "/healthz"), await _get(full, "/healthz")
    assert not front.loaded  # answered without building the pages
    assert (mine.status_code, mine.content) == (theirs.status_code, theirs.content) == (
        200, b'{"status":"ok","version":"' + theirs.json()["version"].encode() + b'","role":"leader"}')
    assert mine.headers.multi_items() == theirs.headers.multi_items()


async def test_any_other_request_builds_the_full_app_once_and_gets_its_answer(ctx):
    front = Front(ctx)
    full = create_app(ctx)
    cases = [("/", {"accept": "text/html"}), ("/no/such/page", {"accept": "text/html"}), ("/no/such/page", {}),
             ("/api/v1/committees", {}), ("/healthz", {})]
    for path, headers in cases:
        mine, theirs = await _get(front, path, **headers), await _get(full, path, **headers)
        assert (mine.status_code, mine.text, mine.headers.multi_items()) == \
            (theirs.status_code, theirs.text, theirs.headers.multi_items()), path
    assert front.loaded
    # A method /healthz does not take is the full app's answer too (405), not the front's.
    mine, theirs = await _get(front, "/healthz", "POST"), await _get(full, "/healthz", "POST")
    assert (mine.status_code, mine.text) == (theirs.status_code, theirs.text) and mine.status_code == 405


async def test_first_requests_at_once_share_one_build(ctx, monkeypatch):
    import jcbot.web.app as web_app

    built = []
    real = web_app.create_app

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(web_app, "create_app", counting)
    front = Front(ctx)
    async with _client(front) as c:
        answers = await asyncio.gather(*[c.get("/", headers={"accept": "text/html"}) for _ in range(8)])
    assert [r.status_code for r in answers] == [200] * 8 and len({r.text for r in answers}) == 1
    assert built == [1]


async def test_the_full_app_reports_the_role_set_on_the_front(ctx):
    front = Front(ctx)
    front.state.leadership = _Role()
    await _get(front, "/")  # builds the full app
    assert (await front.full()).state.leadership is front.state.leadership
