"""Error answers outside the API: a browser gets a page in the site's layout, any other client JSON.

Unknown paths (404), a method a path does not take (405), a form the route cannot read
(400) and an unexpected error (500). A request whose Accept header ranks text/html at
least as high as application/json (what browsers send) gets the HTML page, with the
site's security headers; anything else (an API client, curl's */*) gets the JSON
FastAPI gives. Under /api/ the API's problem details answer instead (jcbot.web.problems).
"""
from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from jcbot.publish import render
from jcbot.web.site import html

log = logging.getLogger(__name__)
ROOT = "/"  # error pages answer at any depth: their links start at the site's root

WHAT = {
    404: "There is no page at {path}. Check the address, or start from the list of committees.",
    405: "{path} cannot be used this way. Go back and try again from the page that links to it.",
}


def wants_html(request: Request) -> bool:
    """True when the client's Accept header prefers an HTML page to JSON (as browsers' does)."""
    ranks: dict[str, float] = {}
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranks[media.lower()] = max(q, ranks.get(media.lower(), 0.0))
    page = max(ranks.get("text/html", 0.0), ranks.get("application/xhtml+xml", 0.0))
    return page > 0 and page >= ranks.get("application/json", 0.0)


def error_page(status: int, what: str, heading: str | None = None, headers: dict | None = None) -> Response:
    """The HTML page of an error, in the public site's layout."""
    links = render.Links(static=False)
    body = render.render_not_found(what, ROOT, None, links, heading or HTTPStatus(status).phrase)
    response = html(body, status)
    response.headers.update(headers or {})
    return response


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """An HTTP error raised outside the API (most often: no route for the path)."""
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    template = WHAT.get(exc.status_code)
    what = template.format(path=request.url.path) if template else str(exc.detail)
    heading = "Page not found" if exc.status_code == 404 else None
    return error_page(exc.status_code, what, heading, getattr(exc, "headers", None))


async def invalid(request: Request, exc: RequestValidationError) -> Response:
    """A form or query a page's route cannot read (a field of the wrong type)."""
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    return error_page(400, "The form could not be read, so nothing was changed. Go back, reload the page and "
                           "try again.", "Form not understood")


async def unexpected(request: Request, exc: Exception) -> Response:
    """An unexpected error (500): logged with its traceback by the server; the browser gets a page."""
    if not wants_html(request) or request.url.path.startswith("/api/"):
        return PlainTextResponse("Internal Server Error", status_code=500)
    return error_page(500, "Something went wrong on our side, and what you asked for may not have been done. "
                           "Reload the page to see where things stand; if it happens again, tell the secretariat.",
                      "Something went wrong")


def install(app: FastAPI) -> None:
    """Answer errors outside the API as pages for browsers (the API's own handlers, installed later, defer here)."""
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
