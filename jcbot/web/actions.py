"""GET /act/{token} shows a confirmation page; POST /act/{token} takes the co-chair's action.

Links come in escalation emails (jcbot.actionlinks). A GET never changes anything, so a
mail scanner that follows the link acts on nothing; the service refuses an action on a
proposal that is no longer open, so a link works once. The pages are in the dashboard's
layout (templates/dashboard/act.html) with the site's security headers, and name members
by their names.
"""
from __future__ import annotations

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from jcbot.actionlinks import ACTIONS, ActionLinkError, read_action_token
from jcbot.core.errors import ProcedureError
from jcbot.publish import render
from jcbot.resources import templates_dir
from jcbot.services import proposals, queries
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.escalation import leave_open
from jcbot.store.models import Member
from jcbot.web.site import html


def _secret(ctx: ServiceContext) -> bytes:
    from jcbot.secret import app_secret

    return app_secret(ctx.settings)


def router(ctx: ServiceContext) -> APIRouter:
    """The co-chairs' action links."""
    r = APIRouter(include_in_schema=False)
    env = render.environment(str(templates_dir() / "dashboard"))

    def page(code: int = 200, **values) -> HTMLResponse:
        values = {"title": "Co-chairs' action", "error": None, "done": None} | values
        response = html(env.get_template("act.html").render(**values), code)
        response.headers.update({"Cache-Control": "no-store", "X-Robots-Tag": "noindex"})
        return response

    @r.get("/act/{token}")
    async def confirm(token: str) -> HTMLResponse:
        try:
            claim = read_action_token(_secret(ctx), token)
            view, names = await ctx.run(_show, ctx, claim.ref)
        except (ActionLinkError, ServiceError) as exc:
            return page(400, error=str(exc))
        verdict = view.verdict
        return page(ref=claim.ref, version=claim.version, proposal_title=view.version.title,
                    committee=view.committee.name, member=names.get(claim.member, claim.member),
                    status=view.version.status,
                    negatives=[names.get(h, h) for h in verdict.negatives] if verdict else [],
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


def _show(ctx: ServiceContext, ref: str) -> tuple[queries.ProposalView, dict[str, str]]:
    """The proposal as it stands, and its committee's members' names by handle."""
    view = queries.show(ctx, ref)
    with ctx.read("web:act") as tx:
        members = tx.session.exec(select(Member).where(Member.committee_id == view.committee.id))
        return view, {m.handle: m.name or m.handle for m in members}


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
