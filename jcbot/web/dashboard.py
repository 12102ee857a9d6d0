"""/dashboard: what needs the co-chairs, and the escalation workflow's actions as forms.

Thin: every action is a POST with a CSRF token that calls a service
(services.proposals.withdraw/refer/revise, services.escalation.leave_open) with
by=<the co-chair's handle>, or by=None for the secretariat acting on their behalf.
"""
from __future__ import annotations

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from jcbot.core.cycle import OUTCOMES
from jcbot.core.errors import ProcedureError
from jcbot.services import board
from jcbot.services import case_documents, case_flow, cases, documents, escalation, experts, proposals
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.numbering import ITEM_KINDS
from jcbot.web import auth as web_auth

ACTIONS = ("withdraw", "refer", "revise", "leave-open", "distribute")


def router(ctx: ServiceContext) -> APIRouter:
    """The dashboard's routes, with the sign-in routes they rely on."""
    r = APIRouter(include_in_schema=False)
    auth = web_auth.WebAuth(ctx)
    r.include_router(web_auth.router(ctx))

    def gate(request: Request, csrf: str, what: str, *, slug: str | None = None, proposal: str | None = None,
             case: str | None = None) -> tuple:
        """(viewer, access, None) when the signed-in viewer may send this form about the committee of
        `slug`, proposal or case; else (None, None, the response refusing it)."""
        who = auth.current(request)
        if who is None:
            return None, None, RedirectResponse("/signin", status_code=303)
        try:
            if slug is not None:
                access = next((a for a in who.access if a.committee.slug == slug), None)
            else:
                access = who.in_committee(_committee_of(ctx, proposal) if proposal is not None
                                          else _case_committee(ctx, case))  # type: ignore[arg-type]
        except ServiceError as exc:
            return None, None, _refusal(auth, exc)
        return who, access, _refused(auth, request, csrf, access, what)

    @r.get("/dashboard")
    def dashboard(request: Request) -> Response:
        who = auth.current(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        flash = auth.take_flash(request)
        response = auth.page(request, "dashboard.html", who=who, boards=board.board(ctx, who),
                             unfiled=board.unfiled_problems(ctx, who), flash=flash, item_kinds=ITEM_KINDS,
                             outcomes=OUTCOMES)
        if flash:
            response.delete_cookie(web_auth.FLASH_COOKIE, path="/")
        return response

    @r.post("/dashboard/committees/{slug}/drafts")
    def new_draft(request: Request, slug: str, csrf: str = Form(""), title: str = Form(""), text: str = Form(""),
                  item_kind: str = Form(""), item_title: str = Form("")) -> Response:
        who, access, refused = gate(request, csrf, f"draft a proposal of {slug}", slug=slug)
        if refused is not None:
            return refused
        try:
            p = proposals.draft(ctx, slug, title, text, [proposals.Item(item_kind, item_title)], f"web:{who.email}")
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        return _back(auth, f"{p.ref} drafted: attach its documents, then distribute it.", True)

    @r.post("/dashboard/proposals/{ref}/documents")
    def upload(request: Request, ref: str, csrf: str = Form(""), visibility: str = Form("public"),
               file: UploadFile | None = File(None)) -> Response:
        who, access, refused = gate(request, csrf, f"attach documents to {ref}", proposal=ref)
        if refused is not None:
            return refused
        upload = _upload(ctx, file, visibility)
        if upload is None:
            return _back(auth, "Choose a file to attach. Nothing was changed.", False)
        try:
            added = proposals.attach(ctx, ref, [upload], f"web:{who.email}")
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        if not added:
            return _back(auth, f"{ref} already carries {upload.name}. Nothing was changed.", True)
        return _back(auth, f"{added[0].name} attached to {ref} ({added[0].visibility}, SHA-256 {added[0].sha256}).", True)

    @r.post("/dashboard/cases/{ref}/check")
    def check_case(request: Request, ref: str, csrf: str = Form(""), result: str = Form(""),
                   reason: str = Form("")) -> Response:
        who, access, refused = gate(request, csrf, f"record the completeness check of {ref}", case=ref)
        if refused is not None:
            return refused
        if result not in ("complete", "incomplete"):
            return _back(auth, f"Choose whether {ref} is complete or incomplete. Nothing was changed.", False)
        try:
            view = cases.check(ctx, ref, result == "complete", reason.strip() or None, f"web:{who.email}")
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        told = "the proponent is told why" if result == "incomplete" else "the proponent is told"
        return _back(auth, f"{ref} found {result}: it is now {view.state.replace('_', ' ')}; {told}.", True)

    @r.post("/dashboard/cases/{ref}/documents")
    def upload_to_case(request: Request, ref: str, csrf: str = Form(""), visibility: str = Form("public"),
                       file: UploadFile | None = File(None)) -> Response:
        who, access, refused = gate(request, csrf, f"add documents to {ref}", case=ref)
        if refused is not None:
            return refused
        upload = _upload(ctx, file, visibility)
        if upload is None:
            return _back(auth, "Choose a file to add. Nothing was changed.", False)
        try:
            added = case_documents.attach(ctx, ref, [upload], f"web:{who.email}")
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        if not added:
            return _back(auth, f"{ref} already holds {upload.name}. Nothing was changed.", True)
        return _back(auth, f"{added[0].name} added to {ref} ({added[0].visibility}, SHA-256 {added[0].sha256}).", True)

    @r.post("/dashboard/committees/{slug}/cases/propose")
    def propose_cases(request: Request, slug: str, csrf: str = Form(""), case: list[str] = Form([]),
                      outcome: str = Form("approve")) -> Response:
        who, access, refused = gate(request, csrf, f"draft proposals of {slug}", slug=slug)
        if refused is not None:
            return refused
        if not case:
            return _back(auth, "Tick at least one case to propose. Nothing was changed.", False)
        try:
            committees = {_case_committee(ctx, ref) for ref in case}
            if committees != {access.committee.id}:  # type: ignore[union-attr]
                raise ServiceError(f"every case must be one of {access.committee.name}'s")  # type: ignore[union-attr]
            p = cases.propose(ctx, case, f"web:{who.email}", outcome)
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        return _back(auth, f"{p.ref} drafted for {', '.join(case)} ({outcome.replace('_', ' ')}): it is under Drafts, "
                           "with the cases' documents; distribute it there.", True)

    @r.post("/dashboard/proposals/{ref}/experts")
    def appoint_expert(request: Request, ref: str, csrf: str = Form(""), name: str = Form(""), email: str = Form(""),
                       panel: str = Form("")) -> Response:
        who, access, refused = gate(request, csrf, f"appoint experts to {ref}", proposal=ref)
        if refused is not None:
            return refused
        try:
            a = experts.appoint(ctx, ref, name, email, f"web:{who.email}", panel or None)
        except (ServiceError, ProcedureError) as exc:
            return _refusal(auth, exc)
        return _back(auth, f"{a.name} appointed as an expert to {ref}: they receive each distributed version with "
                           "its documents, and may comment to the co-chairs.", True)

    # After the upload and experts routes: /documents and /experts are not actions.
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
            return _refusal(auth, exc)
        return _back(auth, done, True)

    return r


def _refusal(auth: web_auth.WebAuth, exc: Exception) -> Response:
    """Back to the dashboard, saying why the service refused and that nothing changed."""
    return _back(auth, f"{str(exc).rstrip('.')}. Nothing was changed.", False)


def _upload(ctx: ServiceContext, file: UploadFile | None, visibility: str) -> documents.Upload | None:
    """The uploaded file as the document store takes it, or None when no file was chosen."""
    if file is None or not file.filename:
        return None
    # One byte past the limit is enough to refuse: an oversized file (spooled to disk by the
    # multipart parser) is never read into memory whole.
    return documents.Upload(file.filename, file.file.read(documents.max_bytes(ctx.settings) + 1), visibility)


def _refused(auth: web_auth.WebAuth, request: Request, csrf: str, access, what: str) -> Response | None:
    """The page refusing a form (expired, or not theirs to send), or None if it may go on."""
    if not auth.csrf_ok(request, csrf):
        return auth.page(request, "message.html", 403, title="Form expired",
                         text="The form expired (or came from another site); nothing was changed. Go back and try again.")
    if access is None or not access.full:
        return auth.page(request, "message.html", 403, title="Not allowed",
                         text=f"Only the co-chairs, their alternates and the secretariat can {what}; nothing was changed.")
    return None


def _committee_of(ctx: ServiceContext, ref: str) -> int:
    with ctx.read("web:dashboard") as tx:
        c, _, _ = proposals.get_proposal(tx.session, ref)
        return c.id  # type: ignore[return-value]


def _case_committee(ctx: ServiceContext, ref: str) -> int:
    with ctx.read("web:dashboard") as tx:
        return case_flow.find(tx.session, ref).committee_id


def _do(ctx: ServiceContext, action: str, ref: str, actor: str, by: str | None, note: str | None,
        title: str | None, text: str | None) -> str:
    if action == "withdraw":
        proposals.withdraw(ctx, ref, actor, by, note)
        return f"{ref} withdrawn; the members are told."
    if action == "refer":
        proposals.refer(ctx, ref, actor, by, note)
        return f"{ref} referred{' ' + note if note else ''}; the members are told."
    if action == "distribute":
        v = proposals.distribute(ctx, ref, actor, by)
        return f"{ref} version {v.version} distributed to every member; the period ends {v.deadline:%Y-%m-%d %H:%M} UTC."
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
