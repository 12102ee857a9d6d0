"""Outgoing mail over SMTP (aiosmtplib), with failures sorted into retry later or give up.

The dispatcher hands each claimed batch to prepare() (the notices rendered by
EmailRenderer in one hop off the event loop, outside any transaction), then one outbox
message at a time to send(), which sends it over one of a few reused connections. A temporary failure (4xx, no connection, a timeout) leaves it queued with
backoff, so an SMTP outage delays mail and never drops it; a permanent refusal (5xx) is
recorded with the server's reply.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from typing import Any

import aiosmtplib

from jcbot.channels.email.compose import NOT_RENDERED, EmailRenderer, rendered
from jcbot.channels.email.files import FileMailSender
from jcbot.channels.email.signing import DkimSigner, dkim_signer, wire_bytes
from jcbot.services.dispatcher import PermanentFailure, Sender, TemporaryFailure
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing

# Connections kept open to the SMTP server: several messages go over each (no TCP and
# EHLO/STARTTLS/AUTH per message), and a few at once keep the server busy.
CONNECTIONS = 4
# Emails rendered ahead by prepare() and not sent yet (a stop leaves some): the oldest go beyond this.
READY_MAX = 1000
# An idle connection older than this is closed rather than reused: servers drop idle
# sessions (Postfix after 300 s), and a dropped one would cost a failed attempt.
IDLE_S = 60.0


class _Pool:
    """A few open SMTP connections, reused; one that failed is closed and replaced by a new one."""

    def __init__(self, connect, size: int) -> None:
        self.connect = connect
        self.size = size
        self.idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self.loop: asyncio.AbstractEventLoop | None = None
        self.slots: asyncio.Semaphore | None = None
        self.opened = 0  # connections made so far (what tests and the bench look at)

    def _for_this_loop(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.slots is None:
            # Connections and semaphores belong to the loop that made them (tests run several).
            self.loop, self.slots, self.idle = loop, asyncio.Semaphore(self.size), []
        return self.slots

    @contextlib.asynccontextmanager
    async def connection(self):
        """A connected client for one message; back to the pool unless it failed."""
        async with self._for_this_loop():
            client, fresh = None, False
            while self.idle and client is None:
                candidate, since = self.idle.pop()
                if candidate.is_connected and time.monotonic() - since < IDLE_S:
                    client = candidate
                else:
                    await _close(candidate)
            if client is None:
                client = self.connect()
                await client.connect()
                self.opened += 1
                fresh = True
            keep = False
            try:
                yield client, fresh
                keep = True
            except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
                keep = True  # the server answered (aiosmtplib reset the envelope): the session is fine
                raise
            finally:
                if keep and client.is_connected:
                    self.idle.append((client, time.monotonic()))
                else:
                    await _close(client)

    async def close(self) -> None:
        idle, self.idle = self.idle, []
        for client, _ in idle:
            await _close(client, quit=True)


async def _close(client: aiosmtplib.SMTP, quit: bool = False) -> None:
    with contextlib.suppress(Exception):
        if quit and client.is_connected:
            await asyncio.wait_for(client.quit(), timeout=2)
        else:
            client.close()


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(str(message).split())}".strip()


class SmtpSender:
    """Renders email outbox messages and sends them through the configured SMTP server."""

    def __init__(self, settings: Settings, renderer: EmailRenderer | None = None,
                 connections: int = CONNECTIONS, signer: DkimSigner | None = None) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.timeout = float(settings.smtp_timeout)
        self.renderer = renderer or EmailRenderer(settings)
        self.signer = signer or dkim_signer(settings)
        self.pool = _Pool(self._client, connections)
        self._ready: OrderedDict[tuple[int, int], dict[str, Any] | None] = OrderedDict()

    async def close(self) -> None:
        """Say QUIT on the idle connections (at a stop)."""
        await self.pool.close()

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout,
            use_tls=self.security == "tls",
            # starttls: required (never fall back to plain text); none: never.
            start_tls=True if self.security == "starttls" else False,
            username=self.user or None, password=self.password if self.user else None,
        )

    async def prepare(self, messages: list[Outgoing]) -> None:
        """Render a claimed batch ahead, in one hop off the event loop; send() takes each from here.

        One thread hop for the batch instead of one per email, done while the previous batch
        is still being sent. An email that fails to render here is rendered again by send(),
        which reports the failure.
        """
        todo = [m for m in messages if m.channel == "email" and self.renderer is not None]
        if todo:
            self._ready.update(await asyncio.to_thread(self._render_all, todo))
            while len(self._ready) > READY_MAX:
                self._ready.popitem(last=False)

    def _render_all(self, messages: list[Outgoing]) -> dict[tuple[int, int], dict[str, Any] | None]:
        done = {}
        for m in messages:
            try:
                done[(m.id, m.attempt)] = self.renderer.for_outbox(m)
            except Exception:  # noqa: BLE001 - send() renders it again and says why
                continue
        return done

    async def send(self, message: Outgoing) -> None:
        """Render and send one outbox message; raise TemporaryFailure or PermanentFailure when it did not go."""
        payload = await rendered(self.renderer, message, self._ready.pop((message.id, message.attempt), NOT_RENDERED))
        text, mail_from, rcpt_to = payload.get("message"), payload.get("mail_from"), payload.get("rcpt_to")
        if not isinstance(text, str) or not isinstance(mail_from, str) \
                or not rcpt_to or not isinstance(rcpt_to, list):
            raise PermanentFailure(f"outbox message {message.id} is not an email with message, mail_from and rcpt_to")
        data = await wire_bytes(message.id, text, self.signer)
        where = f"SMTP {self.host}:{self.port}"
        try:
            refused = await self._sendmail(mail_from, rcpt_to, data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            reason = "; ".join(f"{r.recipient}: {_reply(r.code, r.message)}" for r in exc.recipients)
            if all(400 <= c < 500 for c in codes):
                raise TemporaryFailure(f"{where} refused for now: {reason}") from None
            raise PermanentFailure(f"{where} refused: {reason}") from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # Wrong credentials are the operator's to fix, not this message's fault: keep
            # it queued rather than fail every message until someone requeues them.
            raise TemporaryFailure(f"{where}: authentication failed ({_reply(exc.code, exc.message)}); "
                                   "check JCBOT_SMTP_USER / JCBOT_SMTP_PASSWORD") from None
        except aiosmtplib.SMTPResponseException as exc:
            reason = f"{where}: {_reply(exc.code, exc.message)}"
            if 500 <= exc.code < 600:
                raise PermanentFailure(reason) from None
            raise TemporaryFailure(reason) from None
        except (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError) as exc:
            # No connection, TLS trouble, a timeout, a dropped session: try again later.
            raise TemporaryFailure(f"{where}: {type(exc).__name__}: {exc}") from None
        if refused:
            # Only some recipients refused: the others have it, so a retry would duplicate.
            reason = "; ".join(f"{rcpt}: {_reply(r.code, r.message)}" for rcpt, r in refused.items())
            raise PermanentFailure(f"{where} refused some recipients: {reason}")

    async def _sendmail(self, mail_from: str, rcpt_to: list[str], data: bytes) -> dict:
        for retry in (False, True):
            async with self.pool.connection() as (client, fresh):
                try:
                    refused, _ = await client.sendmail(mail_from, rcpt_to, data)
                    return refused
                except aiosmtplib.SMTPServerDisconnected:
                    # A reused connection the server had dropped (idle timeout) fails at
                    # MAIL FROM, before anything was sent: once more on a new connection.
                    if fresh or retry:
                        raise
        raise AssertionError("unreachable")


def email_sender(settings: Settings) -> Sender:
    """The email sender to use: SMTP when JCBOT_SMTP_HOST is set, else .eml files in storage/mail (signed the same)."""
    if settings.smtp_host:
        return SmtpSender(settings)
    return FileMailSender(settings.storage_path / "mail", EmailRenderer(settings), signer=dkim_signer(settings))
