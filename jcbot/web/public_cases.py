"""The project cycle on the public site, and its public-input form.

Routes: /c/{slug}/cases/ (the committee's cycle record), /c/{slug}/cases.json,
/c/{slug}/cases/feed.atom (its Atom feed),
/c/{slug}/cases/{ref}/ (a case, with the form while its call is open),
POST /c/{slug}/cases/{ref}/inputs (a pending input; its link goes by email),
/inputs/confirm/{token} (GET: a page with a button, changes nothing; POST: confirms).
Listeners are thin: each turns the request into one service call and renders the answer.
"""
from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from jcbot.publish import cycle, cycle_pages, record, render
from jcbot.services import public_inputs
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.web.auth import CSRF_COOKIE, WebAuth
from jcbot.web.site import html

_FRESH = {"Cache-Control": "no-cache"}
CONFIRM_ROOT = "../../"  # from /inputs/confirm/{token}
FIELDS = ("name", "affiliation", "email", "text")


def client_address(request: Request, trusted: tuple[str, ...]) -> str | None:
    """The sender's address: the connection's, or X-Forwarded-For's when the connection is a trusted proxy."""
    peer = request.client.host if request.client else None
    if not trusted or peer not in trusted:
        return peer
    # Walk X-Forwarded-For from the right (the hop nearest us) past our own proxies: the
    # first other address is the client's; entries left of it are the client's to forge.
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            hop = str(ipaddress.ip_address(hop))
        except ValueError:
            return peer
        if hop not in trusted:
            return hop
    return peer


def router(ctx: ServiceContext) -> APIRouter:
    """The cycle record's routes and the public-input form."""
    r = APIRouter(include_in_schema=False)
    links = render.Links(static=False, base_url=ctx.settings.public_url)
    auth = WebAuth(ctx)

    def not_found(what: str, root: str, head) -> Response:
        return html(render.render_not_found(what, root, head, links), 404)

    def case_page(request: Request, slug: str, ref: str, values: dict | None = None, errors: dict | None = None,
                  status: int = 200) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            head = record.chain_head(tx.session)
            pc = cycle.find_case(tx.session, c, ref, tx.now) if c else None
            if pc is None:
                return not_found(f"No case {ref!r} here.", cycle_pages.CASE_ROOT, head)
            token, new = auth.csrf(request)
            form = {"csrf": token, "typed": values or {}, "errors": errors or {}} if pc.open_call else None
            response = html(cycle_pages.render_case(pc, head, links, form), status)
        if new:
            auth._cookie(response, CSRF_COOKIE, new)
        return response

    def answer(heading: str, lines: list[str], status: int, root: str, back: str | None, alert: bool,
               headers: dict | None = None) -> Response:
        response = html(cycle_pages.render_input_answer(heading, lines, links, root, back, alert), status)
        response.headers.update(headers or {})
        return response

    @r.get("/c/{slug}/cases/")
    def cycle_record(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            head = record.chain_head(tx.session)
            if c is None:
                return not_found(f"There is no committee {slug!r}.", cycle_pages.CYCLE_ROOT, head)
            return html(cycle_pages.render_cycle(cycle.cycle_record(tx.session, c, tx.now), head, links))

    @r.get("/c/{slug}/cases.json")
    def cycle_export(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            if c is None:
                return Response('{"error": "no such committee"}\n', 404, media_type="application/json")
            body = cycle_pages.cycle_json(cycle.cycle_record(tx.session, c, tx.now), record.chain_head(tx.session),
                                          links, tx.now)
        return Response(body, media_type="application/json", headers=_FRESH | {"Access-Control-Allow-Origin": "*"})

    @r.get("/c/{slug}/cases/feed.atom")
    def cycle_feed(slug: str) -> Response:
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            if c is None:
                return Response(f"no committee {slug!r}\n", 404, media_type="text/plain")
            rec = cycle.cycle_record(tx.session, c, tx.now)
            body = cycle_pages.render_cycle_feed(rec, cycle.changes(tx.session, rec), links)
        return Response(body, media_type="application/atom+xml; charset=utf-8", headers=_FRESH)

    @r.get("/c/{slug}/cases/{ref}/")
    def case(request: Request, slug: str, ref: str) -> Response:
        return case_page(request, slug, ref)

    @r.post("/c/{slug}/cases/{ref}/inputs")
    def send_input(request: Request, slug: str, ref: str, name: str = Form(""), affiliation: str = Form(""),
                   email: str = Form(""), text: str = Form(""), csrf: str = Form("")) -> Response:
        values = {"name": name, "affiliation": affiliation, "email": email, "text": text}
        back = "./"  # the form posts from the case page's folder
        with ctx.read("public") as tx:
            c = record.committee(tx.session, slug)
            known = c is not None and cycle.find_case(tx.session, c, ref, tx.now) is not None
        if not known:
            return case_page(request, slug, ref)  # the 404 page
        if not auth.csrf_ok(request, csrf):
            return case_page(request, slug, ref, values,
                             {"form": "The form expired; please send it again."}, 400)
        network = public_inputs.network_of(client_address(request, ctx.settings.trusted_proxies))
        try:
            sent = public_inputs.submit(ctx, ref, name, affiliation, text, email, network)
        except public_inputs.InvalidInput as exc:
            return case_page(request, slug, ref, values, exc.fields, 400)
        except public_inputs.RateLimited as exc:
            return answer("Too many inputs", [str(exc), "Nothing was stored from this attempt."], 429,
                          cycle_pages.CASE_ROOT, back, True, {"Retry-After": str(exc.retry_after)})
        except public_inputs.InputRefused as exc:
            return answer("The call for public inputs is closed", [str(exc)], 409, cycle_pages.CASE_ROOT, back, True)
        except ServiceError as exc:
            return answer("Input not sent", [str(exc)], 400, cycle_pages.CASE_ROOT, back, True)
        return answer("Check your email", [
            f"We sent a confirmation link to {sent.email}.",
            f"Open it and press the button before {sent.window_end}: your input counts only once confirmed.",
        ], 200, cycle_pages.CASE_ROOT, back, False)

    @r.get("/inputs/confirm/{token}")
    def confirm_page(request: Request, token: str) -> Response:
        p = public_inputs.pending(ctx, token)
        if p is None:
            return answer("Unknown link", ["This confirmation link is not valid. Copy the whole link from the email."],
                          404, CONFIRM_ROOT, None, True)
        back = links.page(CONFIRM_ROOT, cycle.case_path(p.committee_slug, p.case_ref))
        if p.confirmed:
            return _verdict_page(p.case_ref, p.counted, p.refused_reason, None, back, already=True)
        token_, new = auth.csrf(request)
        response = html(cycle_pages.render_input_confirm(p, token_, links, CONFIRM_ROOT, back))
        if new:
            auth._cookie(response, CSRF_COOKIE, new)
        return response

    def _verdict_page(ref: str, counted: bool, reason: str | None, window_end: str | None, back: str,
                      already: bool = False) -> Response:
        first = "This input was already confirmed. " if already else ""
        if counted:
            return answer("Input confirmed", [first + f"Your public input on {ref} counts; it is published with the case."],
                          200, CONFIRM_ROOT, back, False)
        lines = [first + f"Your public input on {ref} is not counted: the call for public inputs closed"
                 + (f" on {window_end}." if window_end else ".")]
        if reason:
            lines.append(f"The record says: {reason}.")
        return answer("Input refused", lines, 409, CONFIRM_ROOT, back, True)

    @r.post("/inputs/confirm/{token}")
    def confirm(request: Request, token: str, csrf: str = Form("")) -> Response:
        p = public_inputs.pending(ctx, token)
        if p is None:
            return answer("Unknown link", ["This confirmation link is not valid. Copy the whole link from the email."],
                          404, CONFIRM_ROOT, None, True)
        back = links.page(CONFIRM_ROOT, cycle.case_path(p.committee_slug, p.case_ref))
        if not auth.csrf_ok(request, csrf):
            token_, new = auth.csrf(request)
            response = html(cycle_pages.render_input_confirm(
                p, token_, links, CONFIRM_ROOT, back, "The form expired; please press the button again."), 400)
            if new:
                auth._cookie(response, CSRF_COOKIE, new)
            return response
        done = public_inputs.confirm(ctx, token)
        if done is None:
            return answer("Unknown link", ["This confirmation link is not valid."], 404, CONFIRM_ROOT, None, True)
        return _verdict_page(done.case_ref, done.counted, done.reason, done.window_end, back, done.already)

    return r
