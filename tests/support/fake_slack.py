"""A local stand-in for Slack's Web API that answers like Slack and records every call."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from .ports import HOST

BOT_USER_ID = "U0JCBOT001"
TEAM_ID = "T0JCMTEST1"
# Fields slack_sdk sends as JSON text inside the body; decoded so tests compare structures.
JSON_TEXT_FIELDS = ("view", "blocks", "attachments", "metadata")


@dataclass(frozen=True)
class SlackCall:
    """One request received: Web API method, parsed parameters, headers (lower-cased), verb."""

    method: str
    body: dict[str, Any]
    headers: dict[str, str]
    http_verb: str
    raw: bytes = b""
    at: float = 0.0  # time.monotonic() when the request arrived (CLOCK_MONOTONIC: comparable across processes)
    peer: str = ""  # the client's address and port: one per connection (calls over a kept-alive one share it)

    @property
    def token(self) -> str | None:
        """The token sent, from the Authorization header or the body."""
        auth = self.headers.get("authorization", "")
        return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else self.body.get("token")


def _parse(content_type: str, raw: bytes, query: str) -> dict[str, Any]:
    # slack_sdk sends some methods as JSON, some form-encoded, and some (params=...)
    # in the query string even on POST: merge them all, the body winning.
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if raw and "application/json" in content_type:
        params.update(json.loads(raw))
    elif raw:
        # Form-encoded; a multipart upload is left to `raw` (its parts are not parsed).
        if "multipart/" not in content_type:
            params.update(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
    for key in JSON_TEXT_FIELDS:
        if isinstance(params.get(key), str) and params[key][:1] in "[{":
            try:
                params[key] = json.loads(params[key])
            except ValueError:
                pass  # leave what the client really sent
    return params


class _Server(ThreadingHTTPServer):
    # Room for a burst of connections (socketserver's default backlog is 5): otherwise
    # connections beyond it wait for SYN retransmissions (1 s, 3 s...), which real Slack
    # does not make a client do, or fail.
    request_queue_size = 1024

    def handle_error(self, request, client_address) -> None:
        # A client that goes away mid-answer (jcbot stopped with calls in flight, a kept-alive
        # connection closed) is no error of the fake's: anything else is still printed.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


class FakeSlack:
    """The fake Web API: base_url for AsyncWebClient, recorded calls, scripted failures."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._calls: list[SlackCall] = []
        self._scripted: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self._overrides: dict[str, dict[str, Any]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        # What chat.postMessage posted, per conversation id (a user id's DM as its D... id),
        # oldest first: conversations.history answers from it.
        self._history: dict[str, list[dict[str, Any]]] = {}
        self._seq = itertools.count(1)
        self._httpd = _Server((HOST, 0), self._handler_class())
        self._httpd.daemon_threads = True
        self.host, self.port = HOST, self._httpd.server_address[1]
        self.base_url = f"http://{HOST}:{self.port}/api/"
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        name="fake-slack", daemon=True)

    # -- scripting -----------------------------------------------------------------
    def rate_limit_next(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of method with HTTP 429 and Retry-After."""
        self._script(method, times, 429, {"ok": False, "error": "ratelimited"},
                     {"Retry-After": str(retry_after)})

    def fail_next(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """Answer the next `times` calls of method with {"ok": false, "error": error}."""
        self._script(method, times, 200, {"ok": False, "error": error}, {})

    def respond(self, method: str, payload: dict[str, Any]) -> None:
        """Always answer method with payload (merged over {"ok": true})."""
        with self._lock:
            self._overrides[method] = payload

    def add_user(self, user_id: str, email: str, name: str | None = None,
                 tz: str = "Europe/Brussels") -> dict[str, Any]:
        """Register a workspace user returned by users.info and users.lookupByEmail."""
        name = name or email.split("@")[0]
        user = {"id": user_id, "team_id": TEAM_ID, "name": name, "real_name": name, "tz": tz,
                "is_bot": False, "deleted": False,
                "profile": {"email": email, "real_name": name, "display_name": name}}
        with self._lock:
            self._users[user_id] = user
        return user

    def _script(self, method: str, times: int, status: int, payload: dict, headers: dict) -> None:
        with self._lock:
            self._scripted.setdefault(method, []).extend([(status, payload, headers)] * times)

    # -- inspection ----------------------------------------------------------------
    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Recorded calls, oldest first, optionally only those of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, n: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Block until at least n calls of method arrived; return them. AssertionError on timeout."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._matching(method)) >= n, timeout):
                raise AssertionError(f"expected {n} {method} calls within {timeout}s; "
                                     f"got {[c.method for c in self._calls]}")
            return self._matching(method)

    async def wait_for_async(self, method: str, n: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Like wait_for, without blocking the running event loop (the caller may live on it)."""
        deadline = time.monotonic() + timeout
        while len(self.calls(method)) < n:
            if time.monotonic() >= deadline:
                raise AssertionError(f"expected {n} {method} calls within {timeout}s; "
                                     f"got {[c.method for c in self.calls()]}")
            await asyncio.sleep(0.01)
        return self.calls(method)

    def history(self, channel: str) -> list[dict[str, Any]]:
        """The messages posted in a conversation (a user id means the DM with them), oldest first."""
        with self._lock:
            return list(self._history.get(_conversation(channel), []))

    def _matching(self, method: str) -> list[SlackCall]:
        return [c for c in self._calls if c.method == method]

    # -- answering -----------------------------------------------------------------
    def _user(self, user_id: str | None = None, email: str | None = None) -> dict[str, Any]:
        # Unknown users are invented consistently (same email -> same id) so code that
        # resolves members works without setup; fail_next() covers the not-found path.
        for user in self._users.values():
            if user["id"] == user_id or user["profile"]["email"] == email:
                return user
        if email is None:
            email = f"{(user_id or 'unknown').lower()}@example.org"
        if user_id is None:
            user_id = "U" + hashlib.sha1(email.encode()).hexdigest()[:9].upper()
        return self.add_user(user_id, email)

    def _answer(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        ts = f"1700000000.{next(self._seq):06d}"
        channel = body.get("channel") or "C0JCMTEST1"
        if method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "chat.delete"):
            message = {"type": "message", "text": body.get("text", ""), "user": BOT_USER_ID,
                       "bot_id": "B0JCBOT001", "ts": body.get("ts", ts)}
            if "blocks" in body:
                message["blocks"] = body["blocks"]
            if method == "chat.postMessage":
                stored = dict(message, metadata=body["metadata"]) if isinstance(body.get("metadata"), dict) else message
                self._history.setdefault(_conversation(channel), []).append(stored)
            out: dict[str, Any] = {"channel": channel, "ts": message["ts"], "message": message}
            if method == "chat.postEphemeral":
                out = {"message_ts": ts}
            return out
        if method.startswith("views."):
            view = body.get("view") if isinstance(body.get("view"), dict) else {}
            view_id = body.get("view_id") or f"V{next(self._seq):09d}"
            return {"view": {"id": view_id, "team_id": TEAM_ID, "hash": f"{ts}.hash", **view}}
        if method == "conversations.open":
            users = str(body.get("users", "")).split(",")
            return {"channel": {"id": _dm_id(users), "is_im": True}}
        if method == "conversations.history":
            return self._conversation_history(body)
        if method == "users.info":
            return {"user": self._user(user_id=body.get("user"))}
        if method == "users.lookupByEmail":
            return {"user": self._user(email=body.get("email"))}
        if method == "auth.test":
            return {"url": "https://jcm-test.slack.com/", "team": "JCM Test", "user": "jcbot",
                    "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0JCBOT001"}
        return {}

    def _conversation_history(self, body: dict[str, Any]) -> dict[str, Any]:
        # Newest first, paged by an offset cursor. The fake's ts are not real instants, so
        # oldest/latest are not applied; metadata only with include_all_metadata, as Slack.
        posted = list(reversed(self._history.get(_conversation(str(body.get("channel", ""))), [])))
        start = int(body.get("cursor") or 0)
        limit = max(int(body.get("limit") or 100), 1)
        page = posted[start:start + limit]
        if str(body.get("include_all_metadata", "")).lower() not in ("1", "true"):
            page = [{k: v for k, v in m.items() if k != "metadata"} for m in page]
        more = start + limit < len(posted)
        return {"messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _handle(self, verb: str, path: str, query: str, headers: dict[str, str],
                raw: bytes, at: float = 0.0, peer: str = "") -> tuple[int, dict[str, Any], dict[str, str]]:
        if not path.startswith("/api/"):
            return 404, {"ok": False, "error": "unknown_path"}, {}
        method = path.removeprefix("/api/")
        body = _parse(headers.get("content-type", ""), raw, query)
        with self._lock:
            self._calls.append(SlackCall(method, body, headers, verb, raw, at, peer))
            self._lock.notify_all()
            scripted = self._scripted.get(method)
            if scripted:
                return scripted.pop(0)
            if method in self._overrides:
                return 200, {"ok": True, **self._overrides[method]}, {}
            return 200, {"ok": True, **self._answer(method, body)}, {}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as aiohttp expects

            def _serve(self) -> None:
                at = time.monotonic()  # the request line and headers are in
                url = urlsplit(self.path)
                raw = self._read_body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                peer = f"{self.client_address[0]}:{self.client_address[1]}"
                status, payload, extra = fake._handle(self.command, url.path, url.query, headers, raw, at, peer)
                out = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(out)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(out)

            def _read_body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []  # aiohttp streams some bodies chunked, without a length
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
                return b"".join(chunks)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the calls are recorded; access logs would only clutter test output

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _dm_id(users: list[str]) -> str:
    # The same id conversations.open gives for the same users; a user's DM with the bot is
    # D + their id, as the tests' clicks name it (slack/helpers.py).
    if len(users) == 1:
        return "D" + users[0]
    return "D" + hashlib.sha1(",".join(sorted(users)).encode()).hexdigest()[:9].upper()


def _conversation(channel: str) -> str:
    # A post to a user id lands in the DM with them, as Slack does.
    return _dm_id([channel]) if channel[:1] in ("U", "W") else channel


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API on 127.0.0.1 (fresh per test); pass base_url to AsyncWebClient."""
    server = FakeSlack()
    server.start()
    try:
        yield server
    finally:
        server.stop()
