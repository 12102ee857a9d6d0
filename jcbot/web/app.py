"""The HTTP app (FastAPI): /healthz, and the routers of the channels and pages.

Each router module exposes `router(ctx) -> fastapi.APIRouter` (or None when its channel
is not configured); this module only assembles them.
"""
from __future__ import annotations

import importlib
import logging
from typing import Any

from fastapi import FastAPI

from jcbot import __version__
from jcbot.services.context import ServiceContext
from jcbot.web import errors
from jcbot.web.headers import SecurityHeaders
from jcbot.web.health import health

log = logging.getLogger(__name__)

# Router modules, mounted in this order when present.
ROUTERS = ("jcbot.web.actions", "jcbot.web.slack", "jcbot.web.site", "jcbot.web.dashboard", "jcbot.web.answer",
           "jcbot.web.api", "jcbot.web.documents", "jcbot.web.public_cases", "jcbot.web.experts")


def create_app(ctx: ServiceContext, built: dict[str, Any] | None = None) -> FastAPI:
    """The ASGI app serving every HTTP endpoint of jcbot.

    `built`: routers already made, by module name (`jcbot serve`'s front makes the Slack
    one at start), included as they are rather than made again.
    """
    built = built or {}
    app = FastAPI(title="jcbot", version=__version__, docs_url=None, redoc_url=None,
                  openapi_url="/api/v1/openapi.json")
    app.state.ctx = ctx
    app.add_middleware(SecurityHeaders)
    errors.install(app)  # unknown paths and errors: a page in the site's layout for browsers, JSON otherwise

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        """Liveness, database reachability and, under `jcbot serve`, the scheduler role."""
        return health(ctx, getattr(app.state, "leadership", None))

    for name in ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        r = built[name] if name in built else module.router(ctx)
        if r is not None:
            app.include_router(r)
            if hasattr(module, "install"):
                module.install(app)  # app-wide parts of a router (the API's problem details)
    return app
