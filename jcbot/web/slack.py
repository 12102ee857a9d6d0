"""POST /slack/events: Slack's requests (events, interactions, slash commands) handed to bolt."""
from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response

from jcbot.services.context import ServiceContext

log = logging.getLogger(__name__)


def router(ctx: ServiceContext) -> APIRouter | None:
    """The Slack endpoint, or None when the bot token or the signing secret is not set."""
    s = ctx.settings
    if not (s.slack_bot_token and s.slack_signing_secret):
        return None
    # Imported only when Slack is configured: slack-bolt, slack_sdk and aiohttp cost `jcbot serve` about 16 MiB.
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
    from slack_sdk.signature import SignatureVerifier

    from jcbot.channels.slack import shapes
    from jcbot.channels.slack.app import build_app

    handler = AsyncSlackRequestHandler(build_app(ctx))
    verifier = SignatureVerifier(s.slack_signing_secret)
    r = APIRouter()

    # Bolt verifies the signature (401 if bad or older than 5 minutes) and acks within 3 s.
    @r.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        raw = await request.body()
        if not verifier.is_valid_request(raw, dict(request.headers)):
            return Response(status_code=401)  # as bolt answers it; nothing is read from an unsigned body
        # Signed by Slack, yet of any shape: checked before bolt or a listener reads a field.
        shape = shapes.classify(raw, request.headers.get("content-type"))
        if shape.problem is not None:
            log.warning("event=slack.malformed kind=%s problem=%r", shape.kind, shape.problem)
            return Response(f"malformed Slack request: {shape.problem}\n", 400, media_type="text/plain")
        if shape.kind == "foreign":
            log.info("event=slack.ignored reason='not a request jcbot listens to'")
            return Response(status_code=200)  # an ack: Slack does not retry, nothing runs
        try:
            return await handler.handle(request)
        except Exception as error:  # bolt's own parsing of a body the checks above let through
            log.warning("event=slack.unparseable error=%r", error)
            return Response("malformed Slack request\n", 400, media_type="text/plain")

    return r
