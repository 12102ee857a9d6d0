"""Socket Mode: the same app over a WebSocket Slack opens, for deployments without a public URL.

Each envelope's payload is shape-checked (shapes.envelope) as an HTTP request's body is
(web/slack.py) before slack_sdk, bolt or a listener reads a field: a malformed one, or
one that is not jcbot's, is acknowledged (Slack would otherwise deliver it again) and
dropped with one log line; no traceback, no redelivery.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from asyncio import Future

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app, send_async_response
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from jcbot.channels.slack import shapes
from jcbot.channels.slack import keepalive
from jcbot.channels.slack.app import build_app
from jcbot.services.context import ServiceContext

log = logging.getLogger(__name__)


class _Client(SocketModeClient):
    """slack_sdk's aiohttp client, with each frame checked before slack_sdk or bolt reads it.

    A frame that is not a JSON object, an envelope without its id, or one whose payload
    fails the shape checks is one log line (and an acknowledgement when it has an id),
    never a traceback: slack_sdk would raise on a payload that is not an object, bolt or
    a listener on a field missing or of the wrong type.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._tasks: set[Future[None]] = set()  # listener runs, held until done (a bare future may be collected)

    async def process_message(self) -> None:
        raw = await self.message_queue.get()
        if raw is None:
            return
        message: object = None
        if raw.startswith("{"):
            try:
                message = json.loads(raw)
            except ValueError:
                pass
        if not isinstance(message, dict):
            log.warning("event=slack.malformed via=socket problem='the frame is not a JSON object' size=%d", len(raw))
            return
        if message.get("type") in shapes.ENVELOPES and not await self._whole(message):
            return
        task: Future[None] = asyncio.ensure_future(self.run_message_listeners(message, raw))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _whole(self, message: dict) -> bool:
        """Whether an envelope goes on to bolt; a malformed or foreign one is acknowledged and dropped here."""
        kind, envelope_id = message.get("type"), message.get("envelope_id")
        if not isinstance(envelope_id, str) or not envelope_id or len(envelope_id) > 200:
            log.warning("event=slack.malformed via=socket kind=%s problem='envelope_id is missing or not a string'",
                        kind)
            return False  # nothing to acknowledge it with
        shape = shapes.envelope(kind, message.get("payload"))
        if shape.problem is None and shape.kind != "foreign":
            return True
        if shape.problem is not None:
            log.warning("event=slack.malformed via=socket envelope=%s kind=%s problem=%r",
                        envelope_id, shape.kind, shape.problem)
        else:
            log.info("event=slack.ignored via=socket envelope=%s reason='not a request jcbot listens to'", envelope_id)
        await self.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
        return False


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    """bolt's Socket Mode handler on the checking client above; every envelope that reaches bolt is acknowledged."""

    def __init__(self, app: AsyncApp, app_token: str) -> None:
        # As AsyncSocketModeHandler.__init__, with the client above.
        self.app, self.app_token = app, app_token
        self.client = _Client(app_token=app_token, logger=app.logger, web_client=app.client, ping_interval=10)
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.time()
        try:
            answer = await run_async_bolt_app(self.app, req)
        except Exception as error:  # bolt's own reading of a payload the checks let through
            log.warning("event=slack.unparseable via=socket envelope=%s error=%r", req.envelope_id, error)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        if answer.status != 200:
            # bolt would leave it unacknowledged, and Slack would send it again: the same answer each time.
            log.warning("event=slack.unhandled via=socket envelope=%s status=%s", req.envelope_id, answer.status)
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await send_async_response(client, req, answer, start)


def socket_handler(ctx: ServiceContext) -> AsyncSocketModeHandler:
    """The Socket Mode handler of jcbot's app (JCBOT_SLACK_APP_TOKEN must be set)."""
    token = ctx.settings.slack_app_token
    if not token:
        raise ValueError("JCBOT_SLACK_APP_TOKEN is not set: Socket Mode needs an app-level token (xapp-...)")
    return CheckedSocketModeHandler(build_app(ctx), token)


async def run_socket_mode(ctx: ServiceContext, stop_event: asyncio.Event) -> None:
    """Hold a Socket Mode connection until `stop_event` is set."""
    handler = socket_handler(ctx)
    keepalive.keep_alive(handler.app.client)  # serve's pooled connections, if it started a pool
    await handler.connect_async()
    try:
        await stop_event.wait()
    finally:
        await handler.close_async()
