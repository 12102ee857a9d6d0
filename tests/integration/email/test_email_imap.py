"""Replies APPENDed to a real Dovecot mailbox and taken by jcbot's IMAP poller."""
from __future__ import annotations

import asyncio
import ssl

import pytest
from sqlalchemy.exc import OperationalError

from jcbot.channels.email import imap
from jcbot.channels.email.imap import poll_once
from jcbot.settings import Settings
from tests.integration.email.mailtest import PEOPLE, reply
from tests.integration.email.tlsproxy import TlsFront, make_certificate, server_context

pytestmark = pytest.mark.dovecot
SATO, DORJ = PEOPLE["sato"][2], PEOPLE["dorj"][2]
DONE = "jcbot-processed"


@pytest.fixture
def jc(committee_factory, dovecot_server, imap_user):
    return committee_factory(
        JCBOT_INBOUND_IMAP_HOST=dovecot_server.host, JCBOT_INBOUND_IMAP_PORT=str(dovecot_server.port),
        JCBOT_INBOUND_IMAP_SECURITY="none", JCBOT_INBOUND_IMAP_USER=imap_user.username,
        JCBOT_INBOUND_IMAP_PASSWORD=imap_user.password)


def mailbox(dovecot_server, imap_user, folder="INBOX") -> list[bytes]:
    return [raw for _, raw in dovecot_server.fetch_all(imap_user.username, folder)]


async def test_poll_records_refuses_ignores_and_moves_everything_handled(jc, dovecot_server, imap_user):
    put = lambda raw: dovecot_server.append(imap_user.username, raw)  # noqa: E731
    agree = reply("outlook_desktop_agree.eml", to=jc.reply_to("sato"), sender=SATO, message_id="<agree-1@example>")
    put(agree)
    put(agree)  # the same reply delivered twice
    put(reply("outlook_web_object.eml", to=jc.reply_to("dorj"), sender=DORJ))
    put(reply("gmail_yes.eml", to=jc.reply_to("tanaka"), sender="intruder@evil.example"))
    put(reply("ooo_exchange.eml", to=jc.reply_to("bold"), sender=PEOPLE["bold"][2]))

    assert await poll_once(jc.ctx) == 5
    positions = sorted((a.member, a.position) for a in jc.assertions())
    assert positions == [("dorj", "negative"), ("sato", "affirmative")]
    assert [c.recipient for c in jc.outbox("confirmation")] == [SATO, DORJ]
    assert sorted(e.recipient for e in jc.outbox("escalation")) == sorted([PEOPLE["tanaka"][2], PEOPLE["bold"][2]])
    assert jc.outbox("refusal") == []  # neither the intruder (no member) nor the out-of-office reply is answered
    assert mailbox(dovecot_server, imap_user) == []
    assert len(mailbox(dovecot_server, imap_user, DONE)) == 5

    assert await poll_once(jc.ctx) == 0  # nothing left; a second poll changes nothing
    assert len(jc.assertions()) == 2


async def test_a_message_whose_handling_fails_stays_for_the_next_poll(jc, dovecot_server, imap_user, monkeypatch):
    dovecot_server.append(imap_user.username, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    dovecot_server.append(imap_user.username, reply("iphone_agree.eml", to=jc.reply_to("dorj"), sender=DORJ))
    real = imap.handle_message

    def flaky(ctx, raw, **kw):
        if DORJ.encode() in raw:
            raise OperationalError("SELECT 1", None, Exception("database unreachable"))
        return real(ctx, raw, **kw)

    monkeypatch.setattr(imap, "handle_message", flaky)
    assert await poll_once(jc.ctx) == 1
    assert [a.member for a in jc.assertions()] == ["sato"]
    [left] = mailbox(dovecot_server, imap_user)
    assert DORJ.encode() in left
    monkeypatch.undo()
    assert await poll_once(jc.ctx) == 1
    assert sorted(a.member for a in jc.assertions()) == ["dorj", "sato"]
    assert mailbox(dovecot_server, imap_user) == []
    assert len(mailbox(dovecot_server, imap_user, DONE)) == 2


async def test_existing_done_folder_is_reused(jc, dovecot_server, imap_user):
    dovecot_server.append(imap_user.username, b"From: x@example.org\r\nSubject: old\r\n\r\nkept\r\n", mailbox="INBOX")
    assert await poll_once(jc.ctx) == 1  # creates the folder (a refusal: no token)
    dovecot_server.append(imap_user.username, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    assert await poll_once(jc.ctx) == 1  # the folder exists now: no error
    assert len(mailbox(dovecot_server, imap_user, DONE)) == 2


async def test_wrong_password_raises_and_leaves_mail(jc, dovecot_server, imap_user):
    dovecot_server.append(imap_user.username, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    jc.ctx.settings = Settings({**jc.ctx.settings.values, "inbound_imap_password": "wrong"})
    with pytest.raises(imap.ImapError, match="LOGIN"):
        await poll_once(jc.ctx)
    assert len(mailbox(dovecot_server, imap_user)) == 1 and jc.assertions() == []


async def test_run_forever_polls_until_stopped(committee_factory, dovecot_server, imap_user):
    jc = committee_factory(
        JCBOT_INBOUND_IMAP_HOST=dovecot_server.host, JCBOT_INBOUND_IMAP_PORT=str(dovecot_server.port),
        JCBOT_INBOUND_IMAP_SECURITY="none", JCBOT_INBOUND_IMAP_USER=imap_user.username,
        JCBOT_INBOUND_IMAP_PASSWORD=imap_user.password, JCBOT_INBOUND_IMAP_INTERVAL="0.1")
    stop = asyncio.Event()
    task = asyncio.create_task(imap.run_forever(jc.ctx, stop))
    await asyncio.to_thread(dovecot_server.append, imap_user.username,
                            reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    for _ in range(100):
        if jc.assertions():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert [a.member for a in jc.assertions()] == ["sato"]
    assert task.done() and task.exception() is None


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_starttls_with_certificate_checks(jc, dovecot_server, imap_user, tmp_path, monkeypatch, security):
    cert, key = make_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate, as a real CA would be
    dovecot_server.append(imap_user.username, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    async with TlsFront((dovecot_server.host, dovecot_server.port), server_context(cert, key),
                        starttls=security == "starttls") as front:
        jc.ctx.settings = Settings({**jc.ctx.settings.values, "inbound_imap_port": front.port,
                                    "inbound_imap_security": security})
        assert await poll_once(jc.ctx) == 1
    assert [a.member for a in jc.assertions()] == ["sato"]


async def test_untrusted_certificate_is_refused(jc, dovecot_server, imap_user, tmp_path):
    cert, key = make_certificate(tmp_path)
    dovecot_server.append(imap_user.username, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO))
    async with TlsFront((dovecot_server.host, dovecot_server.port), server_context(cert, key)) as front:
        jc.ctx.settings = Settings({**jc.ctx.settings.values, "inbound_imap_port": front.port,
                                    "inbound_imap_security": "tls"})
        with pytest.raises(ssl.SSLCertVerificationError):
            await poll_once(jc.ctx)
    assert jc.assertions() == [] and len(mailbox(dovecot_server, imap_user)) == 1


async def test_a_reply_counts_when_the_server_received_it_not_when_polled(jc, dovecot_server, imap_user):
    from datetime import timedelta

    from jcbot.services.queries import show

    deadline = show(jc.ctx, jc.ref).version.deadline
    received = deadline - timedelta(seconds=10)  # the last seconds of the period
    dovecot_server.append(imap_user.username, reply("outlook_web_object.eml", to=jc.reply_to("sato"), sender=SATO),
                          received=received.timestamp())
    jc.clock.set(deadline + timedelta(minutes=5))  # the poll runs after the deadline
    assert await poll_once(jc.ctx) == 1
    [recorded] = [a for a in jc.assertions() if a.member == "sato"]
    assert recorded.at == received and recorded.position == "negative"
    # Within the period: it counts against adoption by no objection.
    assert show(jc.ctx, jc.ref).verdict.negatives == ("sato",)
