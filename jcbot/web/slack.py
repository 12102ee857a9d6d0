"""POST /slack/events: Slack's requests (events, interactions, slash commands) handed to bolt."""
from __future__ import annotations

from fastapi import APIRouter, Request, Response

from jcbot.services.context import ServiceContext


def router(ctx: ServiceContext) -> APIRouter | None:
    """The Slack endpoint, or None when the bot token or the signing secret is not set."""
    s = ctx.settings
    if not (s.slack_bot_token and s.slack_signing_secret):
        return None
    # Imported only when Slack is configured: slack-bolt, slack_sdk and aiohttp cost `jcbot serve` about 16 MiB.
    from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

    from jcbot.channels.slack.app import build_app

    handler = AsyncSlackRequestHandler(build_app(ctx))
    r = APIRouter()

    # Bolt verifies the signature (401 if bad or older than 5 minutes) and acks within 3 s.
    @r.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    return r
