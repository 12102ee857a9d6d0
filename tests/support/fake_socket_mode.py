"""A local stand-in for Slack's Socket Mode WebSocket: sends envelopes, records the acknowledgements.

The fake Web API (fake_slack) answers apps.connections.open with this server's ws:// URL,
so slack_sdk's real Socket Mode client connects here as it would to Slack.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from .ports import HOST


class FakeSocketMode:
    """One WebSocket endpoint; `send` pushes a frame to the connected client, `acks` holds what it answered."""

    def __init__(self) -> None:
        self.acks: list[dict[str, Any]] = []
        self.frames: list[str] = []  # anything else the client sent that was not JSON
        self._socket: web.WebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/link", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://{HOST}:{port}/link"

    async def stop(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._socket = ws
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1,
                                      "connection_info": {"app_id": "A0JCBOT"}}))
        self._connected.set()
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    self.acks.append(json.loads(msg.data))
                except ValueError:
                    self.frames.append(msg.data)
        return ws

    async def connected(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def send(self, frame: dict | str) -> None:
        """Push one frame (an envelope as Slack sends it, or raw text) to the client."""
        assert self._socket is not None, "no client connected"
        await self._socket.send_str(frame if isinstance(frame, str) else json.dumps(frame))

    async def ack_of(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The client's acknowledgement of one envelope; AssertionError if none came in time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            for ack in self.acks:
                if ack.get("envelope_id") == envelope_id:
                    return ack
            await asyncio.sleep(0.01)
        raise AssertionError(f"envelope {envelope_id} was never acknowledged; acks: {self.acks}")
