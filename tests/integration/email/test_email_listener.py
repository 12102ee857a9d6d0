"""Replies delivered to jcbot's own LMTP/SMTP listener, written the way mail clients write them."""
from __future__ import annotations

import asyncio
import smtplib
import socket
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy.exc import OperationalError

from jcbot.channels.email import inbound
from jcbot.channels.email.compose import distribution_key, message_id
from jcbot.channels.email.inbound import handle_message
from jcbot.channels.email.lmtp import start_listener
from jcbot.channels.email.smtp import email_sender
from jcbot.channels.email.tokens import read_token, token_from_address
from jcbot.services import proposals
from jcbot.services.dispatcher import Dispatcher
from tests.integration.email.mailtest import PEOPLE, deliver, parsed, reply, send, text_of

SATO = PEOPLE["sato"][2]


@pytest.fixture(params=["lmtp", "smtp"])
def protocol(request) -> str:
    return request.param


def test_agree_records_an_affirmative_and_confirms(jc, protocol):
    running = start_listener(jc.ctx, host="127.0.0.1", port=0, protocol=protocol)
    try:
        distribution = message_id(jc.secret, distribution_key(jc.version_id, "sato"), "jcm-mn.example.org")
        send(running, jc, "iphone_agree.eml", in_reply_to=distribution)
    finally:
        running.stop()
    [a] = jc.assertions()
    assert (a.member, a.position, a.channel, a.version_id) == ("sato", "affirmative", "email", jc.version_id)
    assert a.recorded_by == f"email:{SATO}" and a.evidence_key.startswith("<")
    [confirmation] = jc.outbox("confirmation")
    assert confirmation.recipient == SATO
    msg = parsed(confirmation)
    assert msg["In-Reply-To"].strip() == distribution  # threaded under the member's distribution
    assert msg["Auto-Submitted"] == "auto-generated"
    assert "Recorded: your affirmative" in msg["Subject"]
    # The confirmation may be answered too (to change the answer): same member, same version.
    token = token_from_address(msg["Reply-To"].addresses[0].addr_spec, "jc")
    assert read_token(jc.secret, token).member_id == jc.members["sato"].id
    assert jc.outbox("escalation") == []


def test_object_records_a_negative_and_escalates_to_both_cochairs(jc, protocol):
    running = start_listener(jc.ctx, host="127.0.0.1", port=0, protocol=protocol)
    try:
        send(running, jc, "negative_with_opinion.eml")
    finally:
        running.stop()
    [a] = jc.assertions()
    assert (a.member, a.position) == ("sato", "negative")
    assert a.opinion.startswith("the baseline is too high")
    escalations = jc.outbox("escalation")
    assert sorted(e.recipient for e in escalations) == sorted([PEOPLE["tanaka"][2], PEOPLE["bold"][2]])
    for e in escalations:
        text = text_of(e)
        assert "Objection to" in str(parsed(e)["Subject"]) and "Hanako Sato" in text
        assert "the baseline is too high" in text and f"jcbot proposal withdraw {jc.ref}" in text
    assert [c.recipient for c in jc.outbox("confirmation")] == [SATO]


def test_replayed_message_is_recorded_once_and_answered_once(jc, listener):
    raw = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO, message_id="<replay-1@mail.gmail.com>")
    for _ in range(3):
        deliver(listener, raw, SATO, [jc.reply_to("sato")])
    assert len(jc.assertions()) == 1
    assert len(jc.outbox("confirmation")) == 1


def test_internal_error_answers_451_and_the_retry_is_recorded(jc, listener, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", None, Exception("database unreachable"))

    raw = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO)
    monkeypatch.setattr(inbound, "handle_message", broken)  # what lmtp calls, via inbound.receive
    with pytest.raises(smtplib.SMTPDataError) as refused:
        deliver(listener, raw, SATO, [jc.reply_to("sato")])
    assert refused.value.smtp_code == 451
    assert jc.assertions() == []
    monkeypatch.undo()
    deliver(listener, raw, SATO, [jc.reply_to("sato")])  # the MTA's retry
    assert len(jc.assertions()) == 1


def test_a_failure_that_would_repeat_is_answered_once_with_a_permanent_5xx(jc, listener, monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug, the same at every delivery")

    monkeypatch.setattr(inbound, "handle_message", broken)  # what lmtp calls, via inbound.receive
    with pytest.raises(smtplib.SMTPDataError) as refused:
        deliver(listener, reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO), SATO, [jc.reply_to("sato")])
    assert refused.value.smtp_code == 554  # final: the MTA does not retry it for days
    assert jc.assertions() == []


def test_lmtp_answers_data_once_per_recipient(jc, listener):
    raw = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO)
    with socket.create_connection((listener.hostname, listener.port), timeout=5) as s:
        f = s.makefile("rwb")

        def command(line: bytes) -> bytes:
            f.write(line + b"\r\n")
            f.flush()
            return f.readline()

        assert f.readline().startswith(b"220")
        f.write(b"LHLO mta.example.org\r\n")
        f.flush()
        while not (line := f.readline()).startswith(b"250 "):
            assert line.startswith(b"250-")
        assert command(f"MAIL FROM:<{SATO}>".encode()).startswith(b"250")
        assert command(f"RCPT TO:<{jc.reply_to('sato')}>".encode()).startswith(b"250")
        assert command(b"RCPT TO:<jc@jcm-mn.example.org>").startswith(b"250")
        assert command(b"DATA").startswith(b"354")
        f.write(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") + b"\r\n.\r\n")
        f.flush()
        assert f.readline().startswith(b"250 2.0.0 recorded")
        assert f.readline().startswith(b"250 2.0.0 recorded")
        assert command(b"QUIT").startswith(b"221")
    assert len(jc.assertions()) == 1


async def test_member_presses_reply_types_agree_and_gets_a_confirmation(committee_factory, smtp_server):
    jc = committee_factory(JCBOT_SMTP_HOST=smtp_server.host, JCBOT_SMTP_PORT=str(smtp_server.port),
                           JCBOT_SMTP_SECURITY="none")
    dispatcher = Dispatcher(jc.ctx.engine, {"email": email_sender(jc.ctx.settings)}, jc.clock)
    await dispatcher.run_once()
    received = {m.rcpt_tos[0]: m.message for m in await smtp_server.wait_for_async(4)}[SATO]
    # What "Reply" in a mail client makes of it: to the Reply-To, threaded, the original quoted.
    answer = EmailMessage()
    answer["From"] = f"Hanako Sato <{SATO}>"
    answer["To"] = received["Reply-To"]
    answer["Subject"] = "Re: " + received["Subject"].strip()
    answer["Message-ID"] = "<reply-agree-1@mail.gmail.com>"
    answer["In-Reply-To"] = answer["References"] = received["Message-ID"].strip()
    original = received.get_body(("plain",)).get_content()
    quoted = "\n".join("> " + line for line in original.splitlines())
    answer.set_content(f"Agree\n\nOn Tue, 3 Mar 2026 at 08:30, {received['From']} wrote:\n{quoted}\n")
    running = await asyncio.to_thread(start_listener, jc.ctx, "127.0.0.1", 0, "smtp")
    try:
        await aiosmtplib.send(answer, hostname=running.hostname, port=running.port, start_tls=False)
    finally:
        await asyncio.to_thread(running.stop)
    [a] = jc.assertions()
    assert (a.member, a.position, a.evidence_key) == ("sato", "affirmative", "<reply-agree-1@mail.gmail.com>")
    smtp_server.clear()
    assert await dispatcher.run_once() == 1
    [confirmation] = await smtp_server.wait_for_async(1)
    assert confirmation.rcpt_tos == [SATO]
    assert "Recorded: your affirmative" in confirmation.message["Subject"]
    assert confirmation.message["In-Reply-To"].strip() == received["Message-ID"].strip()


def test_redelivery_after_a_revision_is_still_a_duplicate(jc, listener):
    raw = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO, message_id="<early@mail.gmail.com>")
    deliver(listener, raw, SATO, [jc.reply_to("sato")])
    proposals.revise(jc.ctx, jc.ref, "test", text="Revised text.", by="tanaka")
    deliver(listener, raw, SATO, [jc.reply_to("sato")])  # the MTA delivers it again
    assert len(jc.assertions()) == 1
    assert jc.outbox("refusal") == []  # recorded the first time: nothing to refuse


def test_handle_message_reports_each_outcome_once(jc):
    agree = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender=SATO)
    forged = reply("gmail_yes.eml", to=jc.reply_to("sato"), sender="attacker@evil.example")
    first, again = (handle_message(jc.ctx, agree, via="test") for _ in range(2))
    assert (first.outcome, again.outcome) == ("recorded", "duplicate")
    assert first.assertion_id == again.assertion_id == jc.assertions()[0].id
    unclear = reply("ambiguous_yes_object.eml", to=jc.reply_to("sato"), sender=SATO)
    refused, replayed = (handle_message(jc.ctx, unclear, via="test") for _ in range(2))
    assert (refused.outcome, refused.answered) == ("refused", True)
    assert (replayed.outcome, replayed.answered) == ("refused", False)
    stranger = handle_message(jc.ctx, forged, via="test")
    assert (stranger.outcome, stranger.answered) == ("refused", False)  # never answered: not a member
    ooo = handle_message(jc.ctx, reply("ooo_exchange.eml", to=jc.reply_to("sato"), sender=SATO), via="test")
    assert (ooo.outcome, ooo.answered) == ("ignored", False) and "automatic message" in ooo.reason
    assert len(jc.outbox("refusal")) == 1
