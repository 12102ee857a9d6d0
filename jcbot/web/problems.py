"""Errors of the API as RFC 9457 problem details (application/problem+json: type, title, status, detail).

A problem jcbot names has a type of its own (`urn:jcbot:problem:NAME`, titled below);
any other error is `about:blank`, titled by its HTTP status. Only paths under the API's
prefix answer this way: elsewhere jcbot.web.errors answers (a page for browsers).
"""
from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from jcbot.web import errors as pages

MEDIA_TYPE = "application/problem+json"
TITLES = {
    "missing-scope": "The API key lacks the scope",
    "committee-not-allowed": "The API key may not act on this committee",
    "idempotency-key-reused": "Idempotency-Key reused with another request",
    "idempotency-key-in-progress": "A request with this Idempotency-Key is still being answered",
    "refused": "Refused by the rules or the proposal's state",
    "invalid": "Invalid request",
}
SCHEMA = {
    "title": "ProblemDetails",
    "type": "object",
    "description": "An error, as RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:jcbot:problem:NAME, or about:blank"},
        "title": {"type": "string", "description": "A short summary of the type of problem"},
        "status": {"type": "integer", "description": "The HTTP status code"},
        "detail": {"type": "string", "description": "What was wrong in this request, and what to do"},
        "errors": {"type": "array", "items": {"type": "object"}, "description": "Invalid fields (validation only)"},
    },
}
_REF = {"$ref": "#/components/schemas/ProblemDetails"}
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {MEDIA_TYPE: {"schema": _REF}}}
    for status, text in ((401, "Missing, unknown or revoked API key"),
                         (403, "The key lacks the scope, or may not act on the committee"),
                         (404, "No such committee, proposal or decision"),
                         (422, "Invalid request, or an Idempotency-Key reused with another request"))
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = RESPONSES | {
    409: {"description": "Refused by the rules or the proposal's state, or the same Idempotency-Key still "
                         "being answered", "content": {MEDIA_TYPE: {"schema": _REF}}},
}


class Problem(Exception):
    """An API error jcbot names (`name` in TITLES), raised from a route or a dependency."""

    def __init__(self, status: int, detail: str, name: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.name, self.extra = status, detail, name, extra


def body(status: int, detail: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """The problem details of one error."""
    if name is None:
        return {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return {"type": f"urn:jcbot:problem:{name}", "title": TITLES[name], "status": status, "detail": detail, **extra}


def response(status: int, detail: str, name: str | None = None, headers: dict | None = None,
             **extra: Any) -> JSONResponse:
    return JSONResponse(body(status, detail, name, **extra), status_code=status, headers=headers,
                        media_type=MEDIA_TYPE)


def install(app: FastAPI, prefix: str) -> None:
    """Answer errors under `prefix` as problem details; describe ProblemDetails in the OpenAPI document."""

    @app.exception_handler(Problem)
    async def named(request: Request, exc: Problem) -> JSONResponse:
        return response(exc.status, exc.detail, exc.name, **exc.extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if not request.url.path.startswith(prefix):
            return await pages.http_error(request, exc)
        return response(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        if not request.url.path.startswith(prefix):
            return await pages.invalid(request, exc)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return response(422, detail, "invalid", errors=errors)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(title=app.title, version=app.version, routes=app.routes,
                               description=app.description)
            spec.setdefault("components", {}).setdefault("schemas", {})["ProblemDetails"] = SCHEMA
            app.openapi_schema = spec
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["HTTPException", "MEDIA_TYPE", "Problem", "RESPONSES", "WRITE_RESPONSES", "install"]
