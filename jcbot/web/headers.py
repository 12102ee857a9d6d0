"""The security headers of every HTTP answer, and the ASGI middleware that adds them.

Kept free of FastAPI and Starlette so that `jcbot serve`'s front (jcbot.web.front) can
answer /healthz with them before the full app is loaded.
"""
from __future__ import annotations

# No script runs on these pages, whatever a proposal's text contains: the policy
# forbids every script, on top of the escaping of every value.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_RAW = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items()]


def add_security_headers(message: dict) -> None:
    """Add to an ASGI http.response.start message each security header it does not set itself."""
    headers = message["headers"] = list(message.get("headers", ()))
    present = {bytes(name).lower() for name, _ in headers}
    headers.extend((name, value) for name, value in _RAW if name not in present)


class SecurityHeaders:
    """ASGI middleware: every response carries the HTML pages' security headers (JSON, Atom, action pages...).

    A response that sets one of them itself keeps its own value.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                add_security_headers(message)
            await send(message)

        await self.app(scope, receive, send_with_headers)
