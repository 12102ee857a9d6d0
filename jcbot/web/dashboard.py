"""/dashboard: what needs the co-chairs, and the escalation workflow's actions as forms.

Thin: every action is a POST with a CSRF token that calls a service
(services.proposals.withdraw/refer/revise, services.escalation.leave_open) with
by=<the co-chair's handle>, or by=None for the secretariat acting on their behalf.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from jcbot.core.errors import ProcedureError
from jcbot.services import board
from jcbot.services import escalation, proposals
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.web import auth as web_auth

ACTIONS = ("withdraw", "refer", "revise", "leave-open")


def router(ctx: ServiceContext) -> APIRouter:
    """The dashboard's routes, with the sign-in routes they rely on."""
    r = APIRouter(include_in_schema=False)
    auth = web_auth.WebAuth(ctx)
    r.include_router(web_auth.router(ctx))

    @r.get("/dashboard")
    def dashboard(request: Request) -> Response:
        who = auth.current(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        flash = auth.take_flash(request)
        response = auth.page(request, "dashboard.html", who=who, boards=board.board(ctx, who),
                             unfiled=board.unfiled_problems(ctx, who), flash=flash)
        if flash:
            response.delete_cookie(web_auth.FLASH_COOKIE, path="/")
        return response

    @r.post("/dashboard/proposals/{ref}/{action}")
    def act(request: Request, ref: str, action: str, csrf: str = Form(""), note: str = Form(""),
            title: str = Form(""), text: str = Form("")) -> Response:
        who = auth.current(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        if not auth.csrf_ok(request, csrf):
            return auth.page(request, "message.html", 403, title="Form expired",
                             text="The form expired (or came from another site); nothing was changed. Go back and try again.")
        if action not in ACTIONS:
            return auth.page(request, "message.html", 404, title="Unknown action",
                             text=f"There is no action {action!r}; nothing was changed.")
        try:
            access = who.in_committee(_committee_of(ctx, ref))
            if access is None or not access.full:
                return auth.page(request, "message.html", 403, title="Not allowed",
                                 text=f"Only the co-chairs, their alternates and the secretariat can act on {ref}; "
                                      "nothing was changed.")
            by = access.handle if access.role == "cochair" else None
            actor = f"web:{who.email}"
            done = _do(ctx, action, ref, actor, by, note.strip() or None, title.strip() or None, text.strip() or None)
        except (ServiceError, ProcedureError) as exc:
            return _back(auth, f"{str(exc).rstrip('.')}. Nothing was changed.", False)
        return _back(auth, done, True)

    return r


def _committee_of(ctx: ServiceContext, ref: str) -> int:
    with ctx.read("web:dashboard") as tx:
        c, _, _ = proposals.get_proposal(tx.session, ref)
        return c.id  # type: ignore[return-value]


def _do(ctx: ServiceContext, action: str, ref: str, actor: str, by: str | None, note: str | None,
        title: str | None, text: str | None) -> str:
    if action == "withdraw":
        proposals.withdraw(ctx, ref, actor, by, note)
        return f"{ref} withdrawn; the members are told."
    if action == "refer":
        proposals.refer(ctx, ref, actor, by, note)
        return f"{ref} referred{' ' + note if note else ''}; the members are told."
    if action == "revise":
        v = proposals.revise(ctx, ref, actor, title=title, text=text, by=by)
        return f"{ref} version {v.version} distributed; the previous version is superseded."
    if by is None:
        raise ServiceError("leaving a proposal open is the co-chairs' decision: sign in as a co-chair or alternate")
    escalation.leave_open(ctx, ref, actor, by, note)
    return f"{ref} stays open (it can still pass by unanimity)."


def _back(auth: web_auth.WebAuth, message: str, ok: bool) -> Response:
    # Post/redirect/get: a reload does not repeat the action; the message rides in a signed cookie.
    response = RedirectResponse("/dashboard", status_code=303)
    auth.flash(response, message, ok)
    return response
