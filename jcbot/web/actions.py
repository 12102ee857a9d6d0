"""GET /act/{token} shows a confirmation page; POST /act/{token} takes the co-chair's action.

Links come in escalation emails (jcbot.actionlinks). A GET never changes anything, so a
mail scanner that follows the link acts on nothing; the service refuses an action on a
proposal that is no longer open, so a link works once.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from jcbot.actionlinks import ACTIONS, ActionLinkError, read_action_token
from jcbot.core.errors import ProcedureError
from jcbot.resources import templates_dir
from jcbot.services import proposals, queries
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.escalation import leave_open


def _secret(ctx: ServiceContext) -> bytes:
    from jcbot.secret import app_secret

    return app_secret(ctx.settings)


def router(ctx: ServiceContext) -> APIRouter:
    """The co-chairs' action links."""
    r = APIRouter(include_in_schema=False)
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "actions")), autoescape=select_autoescape(["html"]))

    def page(code: int = 200, **values) -> HTMLResponse:
        values.setdefault("title", "Co-chairs' action")
        return HTMLResponse(env.get_template("confirm.html").render(**values), status_code=code,
                            headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})

    @r.get("/act/{token}")
    async def confirm(token: str) -> HTMLResponse:
        try:
            claim = read_action_token(_secret(ctx), token)
            view = await ctx.run(queries.show, ctx, claim.ref)
        except (ActionLinkError, ServiceError) as exc:
            return page(400, error=str(exc))
        verdict = view.verdict
        return page(ref=claim.ref, version=claim.version, proposal_title=view.version.title, member=claim.member,
                    status=view.version.status, negatives=list(verdict.negatives) if verdict else [],
                    action_label=ACTIONS[claim.action], title=ACTIONS[claim.action])

    @r.post("/act/{token}")
    async def act(token: str, request: Request, note: str = Form("")) -> HTMLResponse:
        try:
            claim = read_action_token(_secret(ctx), token)
            await ctx.run(_perform, ctx, claim, note.strip() or None)
        except (ActionLinkError, ServiceError, ProcedureError) as exc:
            return page(409 if not isinstance(exc, ActionLinkError) else 400, error=str(exc))
        return page(done=f"Done: {ACTIONS[claim.action].lower()} ({claim.ref}). Members are told.",
                    title=ACTIONS[claim.action])

    return r


def _perform(ctx: ServiceContext, claim, note: str | None) -> None:
    view = queries.show(ctx, claim.ref)
    if view.version.version != claim.version:
        raise ServiceError(f"{claim.ref} has a newer version ({view.version.version}); this link was for version {claim.version}")
    actor = f"email-link:{claim.member}"
    if claim.action == "withdraw":
        proposals.withdraw(ctx, claim.ref, actor, by=claim.member, note=note)
    elif claim.action == "refer":
        proposals.refer(ctx, claim.ref, actor, by=claim.member, note=note)
    else:
        leave_open(ctx, claim.ref, actor, by=claim.member, note=note)
