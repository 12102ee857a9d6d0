"""jcbot serve's Slack Web API calls reuse connections (channels/slack/keepalive).

slack_sdk opens a connection per call unless its client has a session: `serve` starts a
pool for its loop, and the dispatcher's sender and the app's listeners take its session.
"""
from __future__ import annotations

import json
from urllib.parse import urlencode

from jcbot.channels.slack import keepalive
from jcbot.channels.slack.sender import SlackSender
from jcbot.store.outbox import Outgoing, slack_payload
from jcbot.web.slack import Endpoint

from .helpers import SLACK, SlackHttp, shown
from .test_slack_assert import distribution_dm


def _messages(n: int) -> list[Outgoing]:
    return [Outgoing(i, "slack", "distribution", "U0KEEP", f"k{i}",
                     slack_payload("chat.postMessage", channel="U0KEEP", text=f"hi {i}"), 1) for i in range(1, n + 1)]


async def _send_all(sender: SlackSender, n: int) -> None:
    for message in _messages(n):
        await sender.send(message)


async def test_the_senders_calls_share_one_connection_while_a_pool_is_started(ctx, fake_slack):
    keepalive.start()
    try:
        await _send_all(SlackSender(ctx.settings), 5)
        session = SlackSender(ctx.settings).client.session  # a new client has none until it sends
        assert session is None
    finally:
        await keepalive.stop()
    posts = fake_slack.calls("chat.postMessage")
    assert [c.body["text"] for c in posts] == [f"hi {i}" for i in range(1, 6)]
    assert len({c.peer for c in posts}) == 1


async def test_without_a_pool_each_call_opens_its_own_connection(ctx, fake_slack):
    """A library use or a test that started no pool: slack_sdk as it comes, nothing left open."""
    sender = SlackSender(ctx.settings)
    await _send_all(sender, 3)
    assert sender.client.session is None
    assert len({c.peer for c in fake_slack.calls("chat.postMessage")}) == 3


async def test_a_stopped_pool_closes_its_session_and_the_next_pool_makes_a_new_one(ctx, fake_slack):
    sender = SlackSender(ctx.settings)
    keepalive.start()
    await _send_all(sender, 2)
    first = sender.client.session
    await keepalive.stop()
    assert first.closed
    keepalive.start()
    try:
        await _send_all(sender, 2)
        assert sender.client.session is not first and not sender.client.session.closed
    finally:
        await keepalive.stop()
    peers = [c.peer for c in fake_slack.calls("chat.postMessage")]
    assert peers[0] == peers[1] and peers[2] == peers[3] and peers[1] != peers[2]


async def test_the_endpoints_listeners_call_slack_through_the_pool(ctx, ref, fake_slack):
    """Clicks handed to the endpoint: their listeners' calls (messages updated) share the pool's connection."""
    blocks = await distribution_dm(ctx, fake_slack, SLACK["sato"])
    slack = SlackHttp("http://unused", fake_slack)
    endpoint = Endpoint(ctx)
    keepalive.start()
    try:
        for user in ("sato", "tanaka"):
            payload = slack.click(SLACK[user], f"jc.affirm|{ref}|1", blocks)
            body = urlencode({"payload": json.dumps(payload)})
            status, _, _ = await endpoint.answer(body.encode(), slack.headers(body, "application/x-www-form-urlencoded"), "")
            assert status == 200
            await fake_slack.wait_for_async("chat.update", 1 if user == "sato" else 2)
        assert endpoint.app.client.session is not None and not endpoint.app.client.session.closed
    finally:
        await keepalive.stop()
    assert endpoint.app.client.session.closed
    assert {a.member for a in shown(ctx, ref).assertions} == {"sato", "tanaka"}
    assert len({c.peer for c in fake_slack.calls("chat.update")}) == 1
