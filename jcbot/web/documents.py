"""Document downloads: GET /documents/{sha256} (a signed link, a session, or a published document)
and GET /c/{slug}/decisions/{number}/documents/{name} (the public documents of an adopted decision).

Thin: the link is read here (jcbot.downloads), who may read what is decided by
jcbot.services.downloads. A refusal is an HTML page saying why, with nothing of the
document in it; a served file is an attachment with its own media type and `nosniff`,
so a browser never renders an uploaded file as a page of this site.
"""
from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import select

from jcbot.downloads import DownloadLinkError, read_token
from jcbot.publish import record, render
from jcbot.secret import app_secret
from jcbot.services import documents
from jcbot.services.context import ServiceContext
from jcbot.services.documents import DocumentUnavailable
from jcbot.services.downloads import Denied, serve
from jcbot.store.blobs import require_sha256
from jcbot.store.models import Decision
from jcbot.web.auth import WebAuth
from jcbot.web.site import html


def disposition(name: str) -> str:
    """Content-Disposition of a download: an ASCII fallback and the UTF-8 name (RFC 6266, RFC 5987)."""
    fallback = "".join(ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in name) or "document"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_response(data: bytes, name: str, media_type: str, public: bool) -> Response:
    """The bytes as a download, never displayed inline."""
    return Response(data, media_type=media_type, headers={
        "Content-Disposition": disposition(name), "X-Content-Type-Options": "nosniff",
        "Cache-Control": "public, max-age=300" if public else "private, no-store",
    })


def router(ctx: ServiceContext) -> APIRouter:
    """The download routes."""
    r = APIRouter(include_in_schema=False)
    links = render.Links(static=False, base_url=ctx.settings.public_url)
    auth = WebAuth(ctx)
    secret = app_secret(ctx.settings)

    def refused(status: int, what: str, root: str, next_path: str | None = None) -> Response:
        heading = {403: "Not available to you", 404: "Not found", 503: "Not available now"}.get(status, "Refused")
        signin = "/signin" + (f"?next={quote(next_path, safe='/')}" if next_path else "")
        return html(render.render_refused(heading, what, root, links, signin), status)

    @r.get("/documents/{sha256}")
    def download(request: Request, sha256: str, t: str = "") -> Response:
        root = "../"
        try:
            require_sha256(sha256)
        except ValueError:
            return refused(404, "There is no such document.", root)
        recipient = None
        if t:
            try:
                recipient = read_token(secret, t, sha256, ctx.clock.now()).recipient
            except DownloadLinkError as exc:
                return refused(403, f"The link cannot be used: {exc}.", root, f"/documents/{sha256}")
        viewer = auth.current(request)
        try:
            got = serve(ctx, sha256, recipient=recipient, viewer=viewer)
        except Denied as exc:
            return refused(exc.status, f"{exc.reason[:1].upper()}{exc.reason[1:]}.", root,
                           None if viewer else f"/documents/{sha256}")
        except DocumentUnavailable:
            return refused(503, "The stored copy of this document failed its integrity check and is not served; "
                                "the secretariat can restore it.", root)
        return file_response(got.data, got.document.name, got.document.media_type, got.basis == "public")

    @r.get("/c/{slug}/decisions/{number}/documents/{name}")
    def published(slug: str, number: str, name: str) -> Response:
        root = "../../../../../"
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            d = tx.session.exec(select(Decision).where(Decision.committee_id == c.id, Decision.number == number)).first() \
                if c is not None else None
            shown = [a for a in documents.of_version(tx.session, d.version_id)
                     if a.visibility == "public" and a.name == name] if d is not None and d.version_id else []
            if not shown:
                # A confidential document, or one of a proposal not adopted, looks exactly like none.
                return refused(404, f"Decision {number} of {slug} publishes no document {name!r}.", root)
            sha = shown[0].sha256
        try:
            got = serve(ctx, sha)
        except Denied as exc:  # pragma: no cover - a public document of an adopted decision is served
            return refused(exc.status, exc.reason, root)
        except DocumentUnavailable:
            return refused(503, "The stored copy of this document failed its integrity check and is not served.", root)
        return file_response(got.data, name, got.document.media_type, True)

    return r
