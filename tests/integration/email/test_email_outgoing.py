"""Outgoing mail end to end: services enqueue, the dispatcher sends with SmtpSender to a real aiosmtpd."""
from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from icalendar import Calendar

from jcbot.channels.email.compose import distribution_key, message_id
from jcbot.channels.email.files import FileMailSender
from jcbot.channels.email.smtp import SmtpSender, email_sender
from jcbot.channels.email.tokens import TokenClaims, read_token, token_from_address
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import Settings
from jcbot.store import outbox
from jcbot.store.db import session_scope
from tests.integration.email.mailtest import DEADLINE, MAIL_FROM, PEOPLE, T0, TITLE
from tests.integration.email.tlsproxy import make_certificate, server_context


def smtp_settings(smtp_server, **extra) -> dict:
    return {"JCBOT_SMTP_HOST": smtp_server.host, "JCBOT_SMTP_PORT": str(smtp_server.port),
            "JCBOT_SMTP_SECURITY": "none", **extra}


def dispatcher(jc, sender=None) -> Dispatcher:
    return Dispatcher(jc.ctx.engine, {"email": sender or email_sender(jc.ctx.settings)}, jc.clock)


def by_rcpt(messages) -> dict:
    return {m.rcpt_tos[0]: m for m in messages}


async def test_distribution_reaches_every_member_with_an_email(committee_factory, smtp_server):
    jc = committee_factory(**smtp_settings(smtp_server))
    assert isinstance(email_sender(jc.ctx.settings), SmtpSender)
    assert await dispatcher(jc).run_once() == 4
    got = by_rcpt(await smtp_server.wait_for_async(4))
    # smith has no email address: Slack only.
    assert set(got) == {email for _, _, email, _ in PEOPLE.values() if email}
    # The envelope sender is each message's own bounce address (test_email_bounces.py); the From is jcbot's.
    assert all(m.mail_from.startswith("jc+b-") and m.mail_from.endswith("@jcm-mn.example.org") for m in got.values())
    assert {row.status for row in jc.outbox("distribution")} == {"sent"}

    msg = got["hanako.sato.jc@gmail.com"].message
    assert msg["Subject"].strip() == f"[JC-MN] Proposed decision {jc.ref}: {TITLE}"
    assert msg["From"].addresses[0].addr_spec == MAIL_FROM
    assert msg["To"].addresses[0].display_name == "Hanako Sato"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] is not None  # added by the sender at sending time
    assert msg["Message-ID"].strip() == message_id(jc.secret, distribution_key(jc.version_id, "sato"),
                                                   "jcm-mn.example.org")
    assert msg["In-Reply-To"] is None
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    assert reply_to.startswith("jc+") and reply_to.endswith("@jcm-mn.example.org")
    claims = read_token(jc.secret, token_from_address(reply_to, "jc"))
    assert claims == TokenClaims(jc.proposal_id, 1, jc.members["sato"].id)
    # Each member gets their own token.
    tokens = {token_from_address(m.message["Reply-To"].addresses[0].addr_spec) for m in got.values()}
    assert len(tokens) == 4

    text = msg.get_body(("plain",)).get_content()
    assert "Tuesday 24 March 2026, 00:00 (Asia/Ulaanbaatar, UTC+08:00) - the committee's time zone" in text
    assert "Monday 23 March 2026, 17:00 CET (Europe/Berlin, UTC+01:00) - your time zone" in text
    assert "<b>Baseline</b>: grid emission factor 0.9 & rising." in text  # plain text stays as written
    assert "MN_AM007" in text and "AFFIRM" in text and "OBJECT" in text and reply_to in text
    assert f"read it and answer on the web (you sign in first with your email address):\n" \
           f"    https://jcbot.example.org/answer/{jc.ref}\n" in text.replace("\r\n", "\n")
    html = msg.get_body(("html",)).get_content()
    assert "&lt;b&gt;Baseline&lt;/b&gt;: grid emission factor 0.9 &amp; rising." in html
    assert "<b>Baseline" not in html
    assert "Europe/Berlin, UTC+01:00" in html and "Asia/Ulaanbaatar, UTC+08:00" in html
    assert f'<a href="https://jcbot.example.org/answer/{jc.ref}">read it and answer on the web</a>' in html

    ics = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(ics) == 1 and ics[0].get_filename() == f"{jc.ref}-deadline.ics"
    event = next(c for c in Calendar.from_ical(ics[0].get_content()).walk() if c.name == "VEVENT")
    assert event.decoded("dtstart") == DEADLINE
    assert jc.ref in str(event["summary"])
    assert str(event["uid"]) == f"jcbot-proposal-{jc.proposal_id}-deadline@jcm-mn.example.org"

    # A member without a time zone of their own sees the committee's once.
    dorj = got["dorj@mne.example.gov.mn"].message.get_body(("plain",)).get_content()
    assert "the committee's time zone" in dorj and "your time zone" not in dorj.replace("your time zone and", "")


async def test_smtp_credentials_are_used(committee_factory, smtp_server):
    jc = committee_factory(**smtp_settings(smtp_server, JCBOT_SMTP_USER=smtp_server.username,
                                           JCBOT_SMTP_PASSWORD=smtp_server.password))
    await dispatcher(jc).run_once()
    assert {m.auth_user for m in await smtp_server.wait_for_async(4)} == {"jcbot"}


async def test_temporary_refusal_is_retried_later_and_not_lost(committee_factory, smtp_server):
    jc = committee_factory(**smtp_settings(smtp_server))
    smtp_server.refuse(451, times=1)
    d = dispatcher(jc)
    assert await d.run_once() == 4
    assert len(await smtp_server.wait_for_async(3)) == 3
    with session_scope(jc.ctx.engine) as s:
        waiting = outbox.problems(s)
        assert [(w.status, w.next_attempt_at) for w in waiting] == [("pending", T0 + timedelta(seconds=30))]
        assert "451 4.3.0 Try again later" in waiting[0].last_error
    assert await d.run_once() == 0  # not due yet
    jc.clock.advance(timedelta(seconds=30))
    assert await d.run_once() == 1
    assert len(await smtp_server.wait_for_async(4)) == 4
    assert {row.status for row in jc.outbox("distribution")} == {"sent"}


async def test_smtp_outage_delays_mail(committee_factory, smtp_server):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    jc = committee_factory(**smtp_settings(smtp_server, JCBOT_SMTP_PORT=str(closed), JCBOT_SMTP_TIMEOUT="2"))
    assert await dispatcher(jc).run_once() == 4
    rows = jc.outbox("distribution")
    assert {r.status for r in rows} == {"pending"} and all("SMTP 127.0.0.1" in r.last_error for r in rows)
    jc.clock.advance(timedelta(minutes=1))
    # The server is back (here: the operator fixed the port); nothing was dropped meanwhile.
    live = SmtpSender(Settings({**jc.ctx.settings.values, "smtp_port": smtp_server.port}))
    assert await dispatcher(jc, live).run_once() == 4
    assert len(await smtp_server.wait_for_async(4)) == 4
    assert {r.status for r in jc.outbox("distribution")} == {"sent"}


async def test_permanent_refusal_is_recorded_with_the_reason(committee_factory, smtp_server):
    jc = committee_factory(**smtp_settings(smtp_server))
    smtp_server.refuse(550, times=1, stage="RCPT")
    assert await dispatcher(jc).run_once() == 4
    assert len(await smtp_server.wait_for_async(3)) == 3
    with session_scope(jc.ctx.engine) as s:
        failed = outbox.problems(s)
        assert [f.status for f in failed] == ["failed"]
        assert "550 5.1.1 Mailbox unavailable" in failed[0].last_error
        assert failed[0].kind == "distribution"
    jc.clock.advance(timedelta(hours=2))
    assert await dispatcher(jc).run_once() == 0  # not tried again
    assert smtp_server.attempts == 3


async def test_without_smtp_host_mail_is_written_as_files(committee_factory, tmp_path):
    jc = committee_factory()
    sender = email_sender(jc.ctx.settings)
    assert isinstance(sender, FileMailSender)
    assert await dispatcher(jc, sender).run_once() == 4
    files = sorted((tmp_path / "storage" / "mail").glob("*.eml"))
    assert len(files) == 4
    assert b"Reply-To: jc+" in files[0].read_bytes()


class _TlsServer(Controller):
    """aiosmtpd with TLS (implicit, or STARTTLS required), on a free port; records envelopes and TLS use."""

    def __init__(self, context, implicit: bool) -> None:
        self.received: list[tuple[bool, list[str]]] = []
        kwargs = {"ssl_context": context} if implicit else {"tls_context": context, "require_starttls": True}
        super().__init__(self, hostname="127.0.0.1", port=0, **kwargs)

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received.append((server.transport.get_extra_info("ssl_object") is not None, list(envelope.rcpt_tos)))
        return "250 OK"

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_with_certificate_checks(committee_factory, tmp_path, monkeypatch, security):
    cert, key = make_certificate(tmp_path)
    server = _TlsServer(server_context(cert, key), implicit=security == "tls")
    server.start()
    try:
        jc = committee_factory(JCBOT_SMTP_HOST="127.0.0.1", JCBOT_SMTP_PORT=str(server.port),
                               JCBOT_SMTP_SECURITY=security, JCBOT_SMTP_TIMEOUT="5")
        rows = lambda: {r.status for r in jc.outbox("distribution")}  # noqa: E731
        # Without trusting the certificate: not sent, kept for later.
        assert await dispatcher(jc).run_once() == 4
        assert rows() == {"pending"} and server.received == []
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # now trusted, as a real CA's would be
        jc.clock.advance(timedelta(minutes=1))
        assert await dispatcher(jc).run_once() == 4
        assert rows() == {"sent"}
        assert len(server.received) == 4 and all(encrypted for encrypted, _ in server.received)
    finally:
        server.stop()
