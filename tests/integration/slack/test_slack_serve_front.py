"""Slack's requests to `jcbot serve`'s front (jcbot.web.front): handled at once, without loading the pages.

The front makes the Slack endpoint at start and hands it Slack's POSTs; the full app,
built on the first other request, includes the same endpoint (one bolt app, not two).
"""
from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
import uvicorn

from jcbot.web import slack as web_slack
from jcbot.web.front import Front

from .helpers import SLACK, SlackHttp, shown
from .test_slack_assert import distribution_dm


@pytest.fixture
async def front_http(ctx, fake_slack, monkeypatch):
    """Front(ctx) served by uvicorn on 127.0.0.1 (a free port), as `jcbot serve` serves it; and the Slack endpoints made."""
    made = []
    real = web_slack.router

    def counting(ctx):
        made.append(real(ctx))
        return made[-1]

    monkeypatch.setattr(web_slack, "router", counting)
    front = Front(ctx)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(front, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield front, SlackHttp(f"http://127.0.0.1:{sock.getsockname()[1]}", fake_slack), made
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


async def test_clicks_are_answered_by_the_slack_endpoint_before_and_after_the_pages_load(ctx, ref, fake_slack, front_http):
    front, slack_http, made = front_http
    blocks = await distribution_dm(ctx, fake_slack, SLACK["sato"])
    answer = await slack_http.interact(slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1", blocks))
    assert answer.status_code == 200
    await fake_slack.wait_for_async("chat.update")
    assert [(a.member, a.position) for a in shown(ctx, ref).assertions] == [("sato", "affirmative")]
    assert not front.loaded  # Slack's requests never built the pages
    # An unsigned request is refused by the same endpoint, still without the pages.
    async with httpx.AsyncClient(base_url=slack_http.url) as client:
        assert (await client.post("/slack/events", content=b"payload=%7B%7D")).status_code == 401
        assert not front.loaded
        page = await client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 200 and front.loaded
        # A method the endpoint does not take is the full app's answer (405), as before.
        assert (await client.get("/slack/events")).status_code == 405
    # The full app includes the endpoint the front made: one bolt app, not two.
    assert len(made) == 1 and made[0] is front._slack_router
    answer = await slack_http.interact(slack_http.click(SLACK["bat"], f"jc.affirm|{ref}|1", blocks))
    assert answer.status_code == 200
    for _ in range(100):
        if len(shown(ctx, ref).assertions) == 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(a.member for a in shown(ctx, ref).assertions) == ["bat", "sato"]


async def test_the_front_refuses_an_oversized_body_and_answers_with_the_security_headers(ctx, ref, front_http):
    from jcbot.web.slack import MAX_BODY_BYTES

    front, slack_http, _ = front_http
    async with httpx.AsyncClient(base_url=slack_http.url) as client:
        big = await client.post("/slack/events", content=b"payload=" + b"x" * MAX_BODY_BYTES)
        unsigned = await client.post("/slack/events", content=b"payload=%7B%7D")
    assert big.status_code == 413 and big.text == "request too large\n"
    assert unsigned.status_code == 401
    for answer in (big, unsigned):
        assert answer.headers["content-security-policy"].startswith("default-src 'none'")
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert shown(ctx, ref).assertions == () and not front.loaded


async def test_the_front_refuses_a_bad_or_stale_signature_before_bolt(ctx, ref, fake_slack, front_http):
    # bolt's own signature check is off for HTTP: the endpoint checks before anything reads the body.
    front, slack_http, made = front_http
    middleware = [type(m).__name__ for m in made[0].endpoint.app._async_middleware_list]
    assert "AsyncRequestVerification" not in middleware and "AsyncSslCheck" in middleware
    click = slack_http.click(SLACK["sato"], f"jc.affirm|{ref}|1")
    forged = await slack_http.interact(click, secret="not-the-signing-secret")
    stale = await slack_http.interact(click, timestamp=int(time.time()) - 6 * 60)  # Slack's window is 5 minutes
    unsigned = await slack_http.interact(click, extra={"x-slack-signature": ""})
    assert (forged.status_code, stale.status_code, unsigned.status_code) == (401, 401, 401)
    # Another member's click, signed: recorded and shown. Clicks are recorded in the order they
    # came, so any of the refused ones let through would be recorded by now too.
    other = await slack_http.interact(slack_http.click(SLACK["bat"], f"jc.affirm|{ref}|1"))
    assert other.status_code == 200
    await fake_slack.wait_for_async("chat.update")
    assert [(a.member, a.position) for a in shown(ctx, ref).assertions] == [("bat", "affirmative")]
    assert [c.method for c in fake_slack.calls() if c.method != "conversations.open"] == ["auth.test", "chat.update"]
    assert not front.loaded
