"""/answer/{ref}: a signed-in member reads a proposal and affirms or objects, without any script.

Thin: the page is `services.answering.page`; a POST (CSRF token as on the dashboard, a
nonce of its own per form) is one call to the web intake (`intake.web.answer`), which
records, confirms and escalates as for an email reply or a Slack click. Without a
session, the page sends the member to sign in first and brings them back.
"""
from __future__ import annotations

import re
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jcbot.core.errors import ProcedureError
from jcbot.services import answering
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.intake import web as intake_web
from jcbot.web import auth as web_auth

POSITIONS = ("affirmative", "negative")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def path_of(ref: str) -> str:
    """The page of proposal `ref` (what the notices link to, after the public URL)."""
    return f"/answer/{quote(ref, safe='')}"


def _signin(ref: str) -> Response:
    return RedirectResponse(f"/signin?next={quote(path_of(ref), safe='')}", status_code=303)


def router(ctx: ServiceContext) -> APIRouter:
    """The members' answer pages."""
    r = APIRouter(include_in_schema=False)
    auth = web_auth.WebAuth(ctx)

    def show(request: Request, ref: str, status: int = 200, **values) -> Response:
        who = auth.current(request)
        if who is None:
            return _signin(ref)
        try:
            found = answering.page(ctx, who, ref)
        except ServiceError as exc:
            return auth.page(request, "message.html", 404, title="Not found", text=f"{str(exc).rstrip('.')}.")
        flash = auth.take_flash(request)
        values = {"error": None, "opinion_error": None, "opinion": ""} | values
        response = auth.page(request, "answer.html", status, who=who, a=found, flash=flash,
                             nonces=(secrets.token_urlsafe(18), secrets.token_urlsafe(18)), **values)
        if flash:
            response.delete_cookie(web_auth.FLASH_COOKIE, path="/")
        return response

    @r.get("/answer/{ref}")
    def answer_page(request: Request, ref: str) -> Response:
        return show(request, ref)

    @r.post("/answer/{ref}")
    def answer(request: Request, ref: str, csrf: str = Form(""), nonce: str = Form(""), version: int = Form(0),
               position: str = Form(""), opinion: str = Form("")) -> Response:
        who = auth.current(request)
        if who is None:
            return _signin(ref)
        if not auth.csrf_ok(request, csrf):
            return auth.page(request, "message.html", 403, title="Form expired",
                             text="The form expired (or came from another site); nothing was recorded. "
                                  "Go back, reload the page and answer again.")
        if position not in POSITIONS or not _NONCE.match(nonce):
            return show(request, ref, 400, error="The form was incomplete; nothing was recorded. Answer again below.")
        try:
            found = answering.page(ctx, who, ref)
        except ServiceError as exc:
            return auth.page(request, "message.html", 404, title="Not found", text=f"{str(exc).rstrip('.')}.")
        if found.handle is None:
            return show(request, ref, 403, error=found.why_not)
        out = intake_web.answer(ctx, who.email, found.handle, ref, version, position, opinion, nonce)
        if out.outcome == "refused":
            assert out.stop is not None
            error = out.stop.error
            if isinstance(error, ProcedureError) and getattr(error, "field", None) == "opinion":
                return show(request, ref, 400, opinion_error="To object, write your opinion: the co-chairs "
                                                             "receive it with your objection. Nothing was recorded.")
            return show(request, ref, 409, error=f"{out.stop.reason.rstrip('.')}. Nothing was recorded.")
        said = "affirmed" if position == "affirmative" else "objected to"
        if out.outcome == "duplicate":
            text = f"This answer was already recorded; nothing new was recorded. {ref} is {out.recorded.status}." \
                if out.recorded else "This answer was already recorded."
        else:
            assert out.recorded is not None
            text = (f"Recorded: you {said} {ref}. A confirmation is on its way by email; "
                    f"{ref} is {out.recorded.status} now.")
            if out.recorded.ignored:
                # PROCEDURE 6: kept in the record, but the outcome was settled before it.
                text = f"Recorded, but {ref} was already {out.recorded.status}: your answer does not change the outcome."
            elif position == "negative":
                text += " Your opinion went to both co-chairs."
        response = RedirectResponse(path_of(ref), status_code=303)  # a reload does not post again
        auth.flash(response, text, True)
        return response

    return r
