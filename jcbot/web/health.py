"""GET /healthz's answer, shared by the full app (jcbot.web.app) and `jcbot serve`'s front (jcbot.web.front)."""
from __future__ import annotations

from typing import Any

from sqlalchemy import text

from jcbot import __version__
from jcbot.services.context import ServiceContext


def health(ctx: ServiceContext, leadership: Any = None) -> dict:
    """Liveness, database reachability and, under `jcbot serve`, the scheduler role."""
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__} | ({"role": leadership.role} if leadership else {})
