"""The public record, served live from the database: a decision is online once it is adopted.

Routes: / (committees), /c/{slug}/ (decisions), /c/{slug}/decisions/{number}/,
/c/{slug}/feed.atom, /c/{slug}/decisions.json, /static/site.css. The same renderers
write the static copy (`jcbot publish`).
"""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from jcbot.publish import record, render
from jcbot.services.context import ServiceContext
from jcbot.web.headers import SECURITY_HEADERS

_FRESH = {"Cache-Control": "no-cache"}


def html(body: str, status: int = 200) -> HTMLResponse:
    """An HTML page with the security headers."""
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS | _FRESH)


def router(ctx: ServiceContext) -> APIRouter:
    """The public record's routes."""
    r = APIRouter(include_in_schema=False)
    links = render.Links(static=False, base_url=ctx.settings.public_url)

    @r.get("/")
    def index() -> Response:
        with ctx.read("public") as tx:
            rows = []
            for c in record.committees(tx.session):
                ds = record.decisions(tx.session, c)
                rows.append((c, len(ds), ds[0] if ds else None))
            return html(render.render_index(rows, record.chain_head(tx.session), links))

    @r.get("/c/{slug}/")
    def committee(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            head = record.chain_head(tx.session)
            if c is None:
                return html(render.render_not_found(f"There is no committee {slug!r}.", "../../", head, links), 404)
            return html(render.render_committee(c, record.decisions(tx.session, c), head, links))

    @r.get("/c/{slug}/decisions/{number}/")
    def decision(slug: str, number: str) -> Response:
        root = "../../../../"
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            head = record.chain_head(tx.session)
            d = record.decision(tx.session, c, number) if c else None
            if d is None:
                # Also what a proposal that is not adopted looks like: nothing else is public.
                return html(render.render_not_found(f"No adopted decision {number!r} here.", root, head, links), 404)
            return html(render.render_decision(d, head, links))

    @r.get("/c/{slug}/feed.atom")
    def feed(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            if c is None:
                return Response(f"no committee {slug!r}\n", 404, media_type="text/plain")
            body = render.render_feed(c, record.decisions(tx.session, c), links, tx.now)
        return Response(body, media_type="application/atom+xml; charset=utf-8", headers=_FRESH)

    @r.get("/c/{slug}/decisions.json")
    def export(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            if c is None:
                return Response('{"error": "no such committee"}\n', 404, media_type="application/json")
            body = render.committee_json(c, record.decisions(tx.session, c), record.chain_head(tx.session), links, tx.now)
        return Response(body, media_type="application/json", headers=_FRESH | {"Access-Control-Allow-Origin": "*"})

    @r.get("/static/site.css")
    def css() -> Response:
        return Response(render.stylesheet(), media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": "public, max-age=300"})

    return r
