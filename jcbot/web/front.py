"""`jcbot serve`'s ASGI app: /healthz and Slack's requests at once, every other page loaded on first use.

The pages, the API and their error pages (FastAPI, Jinja, the routers: about 12 MiB
resident) are the full app of jcbot.web.app, built in a worker thread when the first
request other than GET /healthz or Slack's POST /slack/events arrives, then answering
every such request exactly as it would have from the start. A process that only
serves Slack and its health checks never loads them. /healthz answers here with the
same body and headers as the full app's route (which answers instead if this one fails).
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
from types import SimpleNamespace
from typing import Any

from jcbot.services.context import ServiceContext
from jcbot.web.headers import add_security_headers
from jcbot.web.health import health

log = logging.getLogger(__name__)

SLACK_PATH = "/slack/events"


class Front:
    """The ASGI app `jcbot serve` runs: the full app (create_app) made on first use, Slack's endpoint made at start.

    `state.leadership` is what the full app's `state.leadership` is given (the role /healthz reports).
    """

    def __init__(self, ctx: ServiceContext) -> None:
        from jcbot.secret import app_secret

        self.ctx = ctx
        self.state = SimpleNamespace(leadership=None)
        self._full: Any = None
        self._building: asyncio.Lock | None = None
        self._frozen = False
        # Made at start as the full app's sign-in would (a development secret is written once).
        app_secret(ctx.settings)
        self._slack_router: Any = None
        self._slack: Any = None
        s = ctx.settings
        if s.slack_bot_token and s.slack_signing_secret:
            from jcbot.web import slack

            self._slack_router = slack.router(ctx)
            # Called directly (an ASGI app of its own, with the security headers), not through a framework.
            self._slack = self._slack_router.endpoint

    def freeze(self) -> None:
        """Keep what the process has made so far out of the garbage collector's full collections.

        Those walk every object tracked, on the event loop: the services, SQLAlchemy's tables
        and the Slack app are most of them, and in a burst of Slack clicks, each allocating its
        payload's objects, they were the largest cost of an ack after the request's own work.
        `jcbot serve` calls this once started (what is garbage by then is collected first);
        the full app, made later, is frozen once made. Objects frozen are still freed when
        their last reference goes; only a cycle among them would stay.
        """
        gc.collect()
        gc.freeze()
        self._frozen = True

    @property
    def loaded(self) -> bool:
        """Whether the full app has been made (a request other than /healthz or Slack's has come)."""
        return self._full is not None

    async def full(self) -> Any:
        """The full app, made once (in a worker thread: imports and routers take about a second)."""
        if self._full is None:
            if self._building is None:
                self._building = asyncio.Lock()
            async with self._building:
                if self._full is None:
                    from jcbot.web.app import create_app

                    built = {"jcbot.web.slack": self._slack_router} if self._slack_router is not None else {}
                    self._full = await asyncio.to_thread(create_app, self.ctx, built)
                    if self._frozen:
                        gc.freeze()  # the pages, the API and their routers, as long-lived as the rest
                    log.info("event=web.loaded")
        return self._full

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if path == "/healthz" and method == "GET" and await self._healthz(send):
                return
            if path == SLACK_PATH and method == "POST" and self._slack is not None:
                await self._slack(scope, receive, send)
                return
        app = await self.full()
        app.state.leadership = self.state.leadership
        await app(scope, receive, send)

    async def _healthz(self, send) -> bool:
        """Answer GET /healthz as the full app's route does; False (nothing sent) if the check raised."""
        try:
            content = await asyncio.to_thread(health, self.ctx, self.state.leadership)
        except Exception:  # the full app answers, with its error handling and logging
            return False
        # As FastAPI's JSONResponse writes it.
        body = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()
        start = {"type": "http.response.start", "status": 200,
                 "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]}
        add_security_headers(start)
        await send(start)
        await send({"type": "http.response.body", "body": body})
        return True
