"""GET /expert/{token}: an appointed expert's page (the proposal, its documents, their comments); POST comments.

The token (jcbot.services.experts.page_token) names the appointment and is sent to the
expert only; revoking the appointment ends the page. A comment goes to the co-chairs and
their alternates; an expert never asserts, so the page has no answer buttons.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jcbot.services import experts
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.web import auth as web_auth


def router(ctx: ServiceContext) -> APIRouter:
    """The experts' pages."""
    r = APIRouter(include_in_schema=False)
    auth = web_auth.WebAuth(ctx)

    def show(request: Request, token: str, status: int = 200, **values) -> Response:
        try:
            page = experts.page(ctx, token)
        except experts.ExpertLinkError as exc:
            return auth.page(request, "message.html", 403, title="Link not valid", text=f"{exc}. Nothing is shown.")
        with ctx.read("web:expert") as tx:
            docs = experts.documents_for(ctx.settings, tx.session, page)
        values = {"flash": None, "error": None, "text": None} | values
        response = auth.page(request, "expert.html", status, page=page, documents=docs, **values)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the path
        return response

    @r.get("/expert/{token}")
    def expert_page(request: Request, token: str) -> Response:
        flash = auth.take_flash(request)
        response = show(request, token, flash=flash)
        if flash:
            response.delete_cookie(web_auth.FLASH_COOKIE, path="/")
        return response

    @r.post("/expert/{token}")
    def expert_comment(request: Request, token: str, csrf: str = Form(""), text: str = Form("")) -> Response:
        if not auth.csrf_ok(request, csrf):
            return auth.page(request, "message.html", 403, title="Form expired",
                             text="The form expired (or came from another site); nothing was sent. Go back and try again.")
        try:
            experts.comment(ctx, token, text)
        except experts.ExpertLinkError as exc:
            return auth.page(request, "message.html", 403, title="Link not valid", text=f"{exc}. Nothing was sent.")
        except ServiceError as exc:
            return show(request, token, 422, error=f"{str(exc).rstrip('.')}. Nothing was sent.", text=text)
        response = RedirectResponse(f"/expert/{token}", status_code=303)
        auth.flash(response, "Your comment was sent to the co-chairs.", True)
        return response

    return r

