"""Socket Mode: the same app over a WebSocket Slack opens, for deployments without a public URL."""
from __future__ import annotations

import asyncio

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from jcbot.channels.slack.app import build_app
from jcbot.services.context import ServiceContext


def socket_handler(ctx: ServiceContext) -> AsyncSocketModeHandler:
    """The Socket Mode handler of jcbot's app (JCBOT_SLACK_APP_TOKEN must be set)."""
    token = ctx.settings.slack_app_token
    if not token:
        raise ValueError("JCBOT_SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...)")
    return AsyncSocketModeHandler(build_app(ctx), token)


async def run_socket_mode(ctx: ServiceContext, stop_event: asyncio.Event) -> None:
    """Hold a Socket Mode connection until `stop_event` is set."""
    handler = socket_handler(ctx)
    await handler.connect_async()
    try:
        await stop_event.wait()
    finally:
        await handler.close_async()
