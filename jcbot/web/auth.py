"""Sign-in pages, the session cookie and CSRF protection of the dashboard's forms.

/signin asks for an email address; the emailed link opens a page with a button
(a POST), so a mail scanner that follows links cannot use it. The session cookie is
signed (itsdangerous), HttpOnly, SameSite=Lax, and Secure when the public URL is https.
Every form carries a token bound to a random cookie (signed double submit).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.background import BackgroundTask

from jcbot.publish import render
from jcbot.services import signin
from jcbot.services.viewers import Viewer, viewer
from jcbot.resources import templates_dir
from jcbot.services.context import ServiceContext
from jcbot.web.site import html

SESSION_COOKIE, CSRF_COOKIE, FLASH_COOKIE = "jcbot_session", "jcbot_csrf", "jcbot_flash"
# Where sign-in may bring a member back to: a page of this site, never another site's.
_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9/%._~-]{0,200}$")


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site to return to after signing in, else None."""
    return value if value and _NEXT.match(value) else None


def _secret(ctx: ServiceContext) -> bytes:
    if ctx.settings.secret:
        return ctx.settings.secret.encode("utf-8")
    # Development: the secret the email channel keeps in storage/secret, shared by processes.
    from jcbot.secret import app_secret

    return app_secret(ctx.settings)


@dataclass
class WebAuth:
    """Cookies, CSRF tokens and the signed-in viewer, for one app."""

    ctx: ServiceContext

    def __post_init__(self) -> None:
        # Derived keys: a value signed for one purpose is worthless for another.
        base = _secret(self.ctx)
        self._csrf_key = hmac.new(base, b"jcbot-web-csrf", hashlib.sha256).digest()
        self._sessions = URLSafeSerializer(base, salt="jcbot-web-session")
        self._flash = URLSafeSerializer(base, salt="jcbot-web-flash")
        self.secure = (self.ctx.settings.public_url or "").lower().startswith("https://")

    def _cookie(self, response: Response, name: str, value: str, max_age: int | None = None) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", secure=self.secure, path="/")

    # -- CSRF -------------------------------------------------------------
    def csrf(self, request: Request) -> tuple[str, str | None]:
        """(token for the form, new cookie value to set or None)."""
        seed = request.cookies.get(CSRF_COOKIE)
        new = None
        if not seed or len(seed) < 20:
            seed = new = secrets.token_urlsafe(24)
        return hmac.new(self._csrf_key, seed.encode(), hashlib.sha256).hexdigest(), new

    def csrf_ok(self, request: Request, token: str | None) -> bool:
        seed = request.cookies.get(CSRF_COOKIE)
        if not seed or not token:
            return False
        return hmac.compare_digest(hmac.new(self._csrf_key, seed.encode(), hashlib.sha256).hexdigest(), token)

    def page(self, request: Request, template: str, status: int = 200, **values: Any) -> Response:
        """A dashboard template with a CSRF token (its cookie set when missing)."""
        token, new = self.csrf(request)
        env = render.environment(str(templates_dir() / "dashboard"))
        response = html(env.get_template(template).render(csrf=token, **values), status)
        if new:
            self._cookie(response, CSRF_COOKIE, new)
        return response

    # -- sessions ---------------------------------------------------------
    def session_id(self, request: Request) -> str | None:
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None
        try:
            return str(self._sessions.loads(raw))
        except BadSignature:
            return None

    def current(self, request: Request) -> Viewer | None:
        """The signed-in viewer, or None."""
        sid = self.session_id(request)
        email = signin.session_email(self.ctx, sid) if sid else None
        if email is None:
            return None
        with self.ctx.read("web:session") as tx:
            return viewer(tx.session, email, tx.now)

    def start(self, response: Response, sid: str) -> None:
        self._cookie(response, SESSION_COOKIE, self._sessions.dumps(sid), int(signin.SESSION_TTL.total_seconds()))

    # -- flash messages -----------------------------------------------------
    def flash(self, response: Response, text: str, ok: bool = True) -> None:
        self._cookie(response, FLASH_COOKIE, self._flash.dumps({"text": text, "ok": ok}), 300)

    def take_flash(self, request: Request) -> dict | None:
        raw = request.cookies.get(FLASH_COOKIE)
        try:
            return self._flash.loads(raw) if raw else None
        except BadSignature:
            return None


def router(ctx: ServiceContext) -> APIRouter:
    """The sign-in and sign-out routes."""
    r = APIRouter(include_in_schema=False)
    auth = WebAuth(ctx)

    @r.get("/signin")
    def signin_form(request: Request, next: str = "") -> Response:
        return auth.page(request, "signin.html", error=None, email_error=None, email="", next=safe_next(next))

    @r.post("/signin")
    def signin_request(request: Request, email: str = Form(""), csrf: str = Form(""), next: str = Form("")) -> Response:
        back = safe_next(next)
        if not auth.csrf_ok(request, csrf):
            return auth.page(request, "signin.html", 400, error="The form expired; please try again.",
                             email_error=None, email=email, next=back)
        if not signin.valid_email(email):
            # The field's own error: shown beside it, and tied to it (aria-describedby, aria-invalid).
            return auth.page(request, "signin.html", 400, error=None, email=email, next=back,
                             email_error="Enter an email address, such as name@example.org.")
        # The same answer, in the same time, whether or not the address is registered: looking it
        # up and enqueueing the link happen after the response is sent (a known address took 3-4x longer).
        response = auth.page(request, "signin_sent.html", email=email.strip(),
                             minutes=int(signin.LINK_TTL.total_seconds() // 60))
        response.background = BackgroundTask(signin.request_link, ctx, email, next_path=back)
        return response

    @r.get("/signin/{token}")
    def signin_link(request: Request, token: str) -> Response:
        if not signin.link_is_open(ctx, token):
            return auth.page(request, "link_invalid.html", 410)
        return auth.page(request, "confirm.html", error=None)

    @r.post("/signin/{token}")
    def signin_confirm(request: Request, token: str, csrf: str = Form(""), next: str = "") -> Response:
        # The confirmation form posts to its own address, so the link's ?next= comes back here.
        if not auth.csrf_ok(request, csrf):
            return auth.page(request, "confirm.html", 400, error="The form expired; please press the button again.")
        opened = signin.confirm_link(ctx, token)
        if opened is None:
            return auth.page(request, "link_invalid.html", 410)
        response = RedirectResponse(safe_next(next) or "/dashboard", status_code=303)
        auth.start(response, opened[1])
        return response

    @r.post("/signout")
    def signout(request: Request, csrf: str = Form("")) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        if auth.csrf_ok(request, csrf):
            sid = auth.session_id(request)
            if sid:
                signin.end_session(ctx, sid)
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return r
