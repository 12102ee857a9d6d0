"""The HTTP app (FastAPI): /healthz, and the routers of the channels and pages.

Each router module exposes `router(ctx) -> fastapi.APIRouter` (or None when its channel
is not configured); this module only assembles them.
"""
from __future__ import annotations

import importlib
import logging

from fastapi import FastAPI
from sqlalchemy import text
from starlette.datastructures import MutableHeaders

from jcbot import __version__
from jcbot.services.context import ServiceContext
from jcbot.web import errors
from jcbot.web.site import SECURITY_HEADERS

log = logging.getLogger(__name__)

# Router modules, mounted in this order when present.
ROUTERS = ("jcbot.web.actions", "jcbot.web.slack", "jcbot.web.site", "jcbot.web.dashboard", "jcbot.web.answer",
           "jcbot.web.api", "jcbot.web.documents", "jcbot.web.public_cases", "jcbot.web.experts")


class SecurityHeaders:
    """ASGI middleware: every response carries the HTML pages' security headers (JSON, Atom, action pages...).

    A response that sets one of them itself keeps its own value.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(ctx: ServiceContext) -> FastAPI:
    """The ASGI app serving every HTTP endpoint of jcbot."""
    app = FastAPI(title="jcbot", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.ctx = ctx
    app.add_middleware(SecurityHeaders)
    errors.install(app)  # unknown paths and errors: a page in the site's layout for browsers, JSON otherwise

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Liveness, database reachability and, under `jcbot serve`, the scheduler role."""
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        leadership = getattr(app.state, "leadership", None)
        return {"status": "ok", "version": __version__} | ({"role": leadership.role} if leadership else {})

    for name in ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        r = module.router(ctx)
        if r is not None:
            app.include_router(r)
            if hasattr(module, "install"):
                module.install(app)  # app-wide parts of a router (the API's problem details)
    return app
