"""POST /slack/events: Slack's requests (events, interactions, slash commands) handed to bolt.

One `Endpoint` answers them: a bare ASGI app, which `jcbot serve`'s front calls directly
(a click's ack is on the clock: Slack waits 3 s, and every layer of a web framework adds
to each request of a burst), and which the full app's route calls with the same body.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import APIRouter, Request, Response

from jcbot.services.context import ServiceContext
from jcbot.web.headers import add_security_headers

log = logging.getLogger(__name__)

# Slack's largest requests (a pop-up's submission with its view) are tens of kilobytes.
MAX_BODY_BYTES = 1024 * 1024
Answer = tuple[int, dict[str, list[str]], bytes]


class Endpoint:
    """Slack's requests, checked, then dispatched to bolt: an ASGI app, and `answer` for a framework's route."""

    def __init__(self, ctx: ServiceContext) -> None:
        # Imported only when Slack is configured: slack-bolt, slack_sdk and aiohttp cost `jcbot serve` about 16 MiB.
        from slack_sdk.signature import SignatureVerifier

        from jcbot.channels.slack.app import build_app

        # The signature is checked here, before anything reads the body: bolt's own check is off.
        self.app = build_app(ctx, verify_signatures=False)
        self.verifier = SignatureVerifier(ctx.settings.slack_signing_secret or "")

    async def answer(self, raw: bytes, headers: Mapping[str, str], query: str) -> Answer:
        """The answer to one request: (status, headers, body)."""
        from slack_bolt.request.async_request import AsyncBoltRequest

        from jcbot.channels.slack import keepalive, shapes

        given = dict(headers)
        # A bad signature, or a timestamp more than 5 minutes away: 401, as bolt answers it.
        if not self.verifier.is_valid_request(raw, given):
            return 401, {}, b""  # nothing is read from an unsigned body
        # Signed by Slack, yet of any shape: checked before bolt or a listener reads a field.
        shape = shapes.classify(raw, given.get("content-type"))
        if shape.problem is not None:
            log.warning("event=slack.malformed kind=%s problem=%r", shape.kind, shape.problem)
            return 400, _TEXT, f"malformed Slack request: {shape.problem}\n".encode()
        if shape.kind == "foreign":
            log.info("event=slack.ignored reason='not a request jcbot listens to'")
            return 200, {}, b""  # an ack: Slack does not retry, nothing runs
        try:
            # Bolt is handed the body the checks read, not the text to read again (its parser differs:
            # a /jc command whose text says "payload" became an empty request). Only Socket Mode's
            # requests take a body already read; the request is then made an HTTP one, as it came.
            request = AsyncBoltRequest(body=shape.body or {}, query=query, headers=given, mode="socket_mode")
            request.raw_body, request.mode = raw.decode("utf-8"), "http"
            keepalive.keep_alive(self.app.client)  # the listeners' Web API calls share its connections
            done = await self.app.async_dispatch(request)
        except Exception as error:  # bolt's own reading of a body the checks above let through
            log.warning("event=slack.unparseable error=%r", error)
            return 400, _TEXT, b"malformed Slack request\n"
        out = {k: list(v) if isinstance(v, (list, tuple)) else [v] for k, v in done.headers.items()}
        return done.status, out, (done.body or "").encode("utf-8")

    async def __call__(self, scope, receive, send) -> None:
        raw = await _body(receive)
        if raw is None:
            status, headers, body = 413, _TEXT, b"request too large\n"
        else:
            status, headers, body = await self.answer(
                raw, {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", ())},
                scope.get("query_string", b"").decode("latin-1"))
        start = {"type": "http.response.start", "status": status, "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, vs in headers.items() for v in vs
            if k.lower() != "content-length"] + [(b"content-length", str(len(body)).encode())]}
        add_security_headers(start)
        await send(start)
        await send({"type": "http.response.body", "body": body})


_TEXT = {"content-type": ["text/plain; charset=utf-8"]}


async def _body(receive) -> bytes | None:
    """The request's body, or None past MAX_BODY_BYTES."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def router(ctx: ServiceContext) -> APIRouter | None:
    """The Slack endpoint as a route of the full app (its `endpoint`, the same, for the front), or None
    when the bot token or the signing secret is not set."""
    s = ctx.settings
    if not (s.slack_bot_token and s.slack_signing_secret):
        return None
    endpoint = Endpoint(ctx)
    r = APIRouter()
    r.endpoint = endpoint  # type: ignore[attr-defined]

    @r.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return Response("request too large\n", 413, media_type="text/plain")
        status, headers, body = await endpoint.answer(raw, request.headers, request.url.query)
        answer = Response(body, status)
        for name, values in headers.items():
            if name.lower() != "content-length":  # the Response's own
                for value in values:
                    answer.headers.append(name, value)
        return answer

    return r
