"""Outgoing mail over SMTP (aiosmtplib), with failures sorted into retry later or give up.

The dispatcher hands one outbox message at a time: a temporary failure (4xx, no
connection, a timeout) leaves it queued with backoff, so an SMTP outage delays mail
and never drops it; a permanent refusal (5xx) is recorded with the server's reply.
"""
from __future__ import annotations

import asyncio

import aiosmtplib

from jcbot.channels.email.files import FileMailSender
from jcbot.channels.email.headers import with_date
from jcbot.services.dispatcher import PermanentFailure, Sender, TemporaryFailure
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing


def _reply(code: int, message: str) -> str:
    return f"{code} {' '.join(str(message).split())}".strip()


class SmtpSender:
    """Sends email outbox messages through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.timeout = float(settings.smtp_timeout)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host, port=self.port, timeout=self.timeout,
            use_tls=self.security == "tls",
            # starttls: required (never fall back to plain text); none: never.
            start_tls=True if self.security == "starttls" else False,
            username=self.user or None, password=self.password if self.user else None,
        )

    async def send(self, message: Outgoing) -> None:
        """Send one outbox message; raise TemporaryFailure or PermanentFailure when it did not go."""
        payload = message.payload
        text, mail_from, rcpt_to = payload.get("message"), payload.get("mail_from"), payload.get("rcpt_to")
        if message.channel != "email" or not isinstance(text, str) or not isinstance(mail_from, str) \
                or not rcpt_to or not isinstance(rcpt_to, list):
            raise PermanentFailure(f"outbox message {message.id} is not an email with message, mail_from and rcpt_to")
        data = with_date(text).encode("utf-8")
        where = f"SMTP {self.host}:{self.port}"
        try:
            async with self._client() as client:
                refused, _ = await client.sendmail(mail_from, rcpt_to, data)
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


def email_sender(settings: Settings) -> Sender:
    """The email sender to use: SMTP when JCBOT_SMTP_HOST is set, else .eml files in storage/mail."""
    if settings.smtp_host:
        return SmtpSender(settings)
    return FileMailSender(settings.storage_path / "mail")
