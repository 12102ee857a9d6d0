"""A real aiosmtpd SMTP server on 127.0.0.1 that records what it receives and can refuse on demand."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from .ports import HOST

STAGES = ("MAIL", "RCPT", "DATA")


@dataclass
class ReceivedMessage:
    """One accepted message: envelope, raw bytes and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage
    auth_user: str | None = None


@dataclass
class _Refusal:
    stage: str
    reply: str
    remaining: int


@dataclass
class _Recorder:
    messages: list[ReceivedMessage] = field(default_factory=list)
    refusals: list[_Refusal] = field(default_factory=list)
    attempts: int = 0  # DATA commands seen, accepted or refused
    sessions: list = field(default_factory=list)  # one per SMTP connection that sent MAIL
    lock: threading.Condition = field(default_factory=threading.Condition)

    def refusal(self, stage: str) -> str | None:
        with self.lock:
            for r in self.refusals:
                if r.stage == stage and r.remaining > 0:
                    r.remaining -= 1
                    return r.reply
        return None

    # aiosmtpd handler hooks; they run on the controller's own thread and loop.
    async def handle_MAIL(self, server, session: Session, envelope: Envelope, address: str, options):
        with self.lock:
            if not any(s is session for s in self.sessions):
                self.sessions.append(session)
        if reply := self.refusal("MAIL"):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session: Session, envelope: Envelope, address: str, options):
        if reply := self.refusal("RCPT"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.attempts += 1
        if reply := self.refusal("DATA"):
            return reply
        data = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        auth = session.auth_data
        user = auth.login.decode() if isinstance(auth, LoginPassword) else None
        with self.lock:
            self.messages.append(ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos),
                                                 data, parsed, user))
            self.lock.notify_all()
        return "250 Message accepted for delivery"


class _Port0Controller(Controller):
    """A Controller bound to port 0, learning the kernel-chosen port before its self-check."""

    def _trigger_server(self):
        # aiosmtpd connects to self.port to make sure the server is up; with port 0
        # that would fail, so read the bound port first. No probe-then-bind race.
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SMTPServer:
    """A running aiosmtpd server: host, port, received messages, refusals and waiting helpers."""

    username = "jcbot"
    password = "smtp-secret"

    def __init__(self) -> None:
        self._rec = _Recorder()
        # AUTH is offered (without TLS, on loopback) but never required, so clients
        # configured with or without credentials both work.
        self._controller = _Port0Controller(
            self._rec, hostname=HOST, port=0, authenticator=self._authenticate,
            auth_require_tls=False, auth_required=False)
        self.host = HOST

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username
              and auth_data.password.decode() == self.password)
        return AuthResult(success=ok, auth_data=auth_data if ok else None)

    @property
    def port(self) -> int:
        return self._controller.port

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the accepted messages, oldest first."""
        with self._rec.lock:
            return list(self._rec.messages)

    @property
    def connections(self) -> int:
        """How many SMTP connections sent at least one MAIL command."""
        with self._rec.lock:
            return len(self._rec.sessions)

    @property
    def attempts(self) -> int:
        """How many DATA commands arrived, accepted or refused."""
        return self._rec.attempts

    def refuse(self, code: int = 451, times: int = 1, stage: str = "DATA",
               text: str | None = None) -> None:
        """Answer the next `times` MAIL/RCPT/DATA commands with `code` (421/451 temporary, 550 permanent)."""
        if stage not in STAGES:
            raise ValueError(f"stage must be one of {STAGES}, not {stage!r}")
        default = {421: "4.3.2 Service shutting down", 451: "4.3.0 Try again later",
                   550: "5.1.1 Mailbox unavailable"}
        reply = f"{code} {text or default.get(code, 'Refused by test')}"
        with self._rec.lock:
            self._rec.refusals.append(_Refusal(stage, reply, times))

    def clear(self) -> None:
        """Forget received messages and pending refusals."""
        with self._rec.lock:
            self._rec.messages.clear()
            self._rec.refusals.clear()
            self._rec.attempts = 0
            self._rec.sessions.clear()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least n messages were accepted; return them. AssertionError on timeout."""
        with self._rec.lock:
            if not self._rec.lock.wait_for(lambda: len(self._rec.messages) >= n, timeout):
                raise AssertionError(f"expected {n} messages within {timeout}s, "
                                     f"got {len(self._rec.messages)}")
            return list(self._rec.messages)

    async def wait_for_async(self, n: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Like wait_for, without blocking the running event loop (the sender may live on it)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n:
            if time.monotonic() >= deadline:
                raise AssertionError(f"expected {n} messages within {timeout}s, got {len(self.messages)}")
            await asyncio.sleep(0.01)
        return self.messages

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SMTPServer]:
    """An aiosmtpd server on 127.0.0.1 (fresh per test) recording every accepted message."""
    server = SMTPServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
