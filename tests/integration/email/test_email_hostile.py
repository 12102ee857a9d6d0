"""Hostile and malformed mail (issue 14): no backscatter, a final answer for every message, fuzzing.

Refusals go only to members at their registered address, authenticated unless they
carry their own reply token, at most JCBOT_REFUSALS_PER_HOUR an hour (docs/email.md).
"""
from __future__ import annotations

import smtplib
import time
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jcbot.channels.email.inbound import handle_message
from jcbot.channels.email.lmtp import start_listener
from jcbot.channels.email.tokens import make_token, reply_address
from tests.integration.email.mailtest import PEOPLE, deliver, reply, send
from tests.unit.channels.email.strategies import emails

SATO = PEOPLE["sato"][2]
MX = "mx.jcm-mn.example.org"


def lmtp_status(listener, raw: bytes, sender: str, to: str) -> int:
    """The code jcbot's listener answers a delivery with (250 when accepted)."""
    try:
        deliver(listener, raw, sender, [to])
    except smtplib.SMTPDataError as exc:
        return exc.smtp_code
    return 250


def test_fifty_forged_senders_get_no_mail(jc, listener):
    forged_to = [
        "jc@jcm-mn.example.org",  # no token
        f"jc+{make_token(b'made up', jc.proposal_id, 1, jc.members['sato'].id)}@jcm-mn.example.org",  # made up
        jc.reply_to("bold"),  # a valid token, stolen from another member
    ]
    for i in range(50):
        sender = f"victim{i}@forged.example"
        send(listener, jc, ["gmail_yes.eml", "ambiguous_yes_object.eml"][i % 2], sender=sender,
             to=forged_to[i % 3])
    assert jc.assertions() == []
    assert jc.outbox("refusal") == []


def test_a_forged_reply_in_a_members_name_is_not_answered_unless_authenticated(committee_factory):
    jc = committee_factory(JCBOT_TRUSTED_AUTHSERV_IDS=MX)
    listener = start_listener(jc.ctx, host="127.0.0.1", port=0)
    made_up = f"jc+{make_token(b'made up', jc.proposal_id, 1, jc.members['sato'].id)}@jcm-mn.example.org"
    try:
        for to in ("jc@jcm-mn.example.org", made_up, jc.reply_to("bold")):
            send(listener, jc, "gmail_yes.eml", sender=SATO, to=to)  # as Postfix hands over a forgery
        assert jc.outbox("refusal") == []  # Sato is never told "Not recorded" about mail she never sent
        raw = reply("gmail_yes.eml", to="jc@jcm-mn.example.org", sender=SATO)
        deliver(listener, f"Authentication-Results: {MX}; dkim=pass header.d=gmail.com\r\n".encode() + raw,
                SATO, ["jc@jcm-mn.example.org"])
        assert [r.recipient for r in jc.outbox("refusal")] == [SATO]  # signed by her domain: it is her
    finally:
        listener.stop()


def test_with_dkim_required_an_unauthenticated_reply_is_never_answered(committee_factory):
    jc = committee_factory(JCBOT_REQUIRE_DKIM="true")
    for model in ("ambiguous_yes_object.eml", "gmail_yes.eml"):  # her own token: still unproven without DKIM
        result = handle_message(jc.ctx, reply(model, to=jc.reply_to("sato"), sender=SATO), via="test")
        assert (result.outcome, result.answered) == ("refused", False)
    assert jc.assertions() == [] and jc.outbox("refusal") == []


def test_refusals_to_one_address_are_limited_per_hour(committee_factory):
    jc = committee_factory(JCBOT_REFUSALS_PER_HOUR="3")
    answered = [handle_message(jc.ctx, reply("ambiguous_yes_object.eml", to=jc.reply_to("sato"), sender=SATO),
                               via="test").answered for _ in range(5)]
    assert answered == [True, True, True, False, False]
    jc.clock.advance(timedelta(minutes=61))
    assert handle_message(jc.ctx, reply("ambiguous_yes_object.eml", to=jc.reply_to("sato"), sender=SATO),
                          via="test").answered
    assert len(jc.outbox("refusal")) == 4


@pytest.mark.parametrize("sender, extra", [
    ("jos\u00e9@example.org", b""),  # a non-ASCII local part
    ("a\x01b@example.org", b""),  # a control character
    (SATO, b"Message-ID: =?utf-8?q?<a=0D=0AX-Injected:_1@x>?=\r\nIn-Reply-To: <a\r\n b@x>\r\n"),  # CR/LF in ids
    ("x\ufffd@example.org", b""),  # U+FFFD
])
def test_a_sender_or_id_that_cannot_be_answered_gets_a_final_250(jc, listener, sender, extra):
    to = jc.reply_to("sato")
    raw = reply("ambiguous_yes_object.eml", to=to, sender="placeholder@example.org")
    raw = extra + raw.replace(b"placeholder@example.org", sender.encode("utf-8"))
    if extra:
        raw = raw.replace(b"Message-ID: <", b"X-Old-Message-ID: <", 1)
    assert lmtp_status(listener, raw, "bounce@example.org", to) == 250
    assert lmtp_status(listener, raw, "bounce@example.org", to) == 250  # and again: no 451 loop
    for row in jc.outbox("refusal"):
        assert row.recipient == SATO  # only the member, at her registered address


def test_huge_headers_are_answered_quickly(jc, listener):
    to = jc.reply_to("sato")
    folded = b"To: " + b",\r\n ".join([b"x%d@y.example" % i for i in range(7000)]) + b"\r\n"  # ~100 KB
    raw = folded + reply("gmail_yes.eml", to=to, sender=SATO)
    started = time.monotonic()
    assert lmtp_status(listener, raw, SATO, to) == 250
    one_line = b"X-Long: " + b"a," * 500_000 + b"\r\n" + reply("gmail_yes.eml", to=to, sender=SATO)
    assert handle_message(jc.ctx, one_line, via="test").outcome == "ignored"
    assert time.monotonic() - started < 10  # seconds; 4.6 s and 57 s before the limits
    long_field = b"From: " + b"a," * 3000 + b"<x@y.example>\r\n" + reply("gmail_yes.eml", to=to, sender=SATO)
    started = time.monotonic()
    assert handle_message(jc.ctx, long_field, via="test").outcome in ("ignored", "refused")
    assert time.monotonic() - started < 5


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_mail_never_raises_and_only_members_are_answered(jc, data):
    members = {handle: person[2] for handle, person in PEOPLE.items() if person[2]}
    tokens = [jc.reply_to(h) for h in members] + [
        reply_address("jc", "jcm-mn.example.org", make_token(b"made up", jc.proposal_id, 1, jc.members["sato"].id))]
    raw = data.draw(emails(list(members.values()), tokens))
    result = handle_message(jc.ctx, raw, via="fuzz")  # raising here would be a 451 or 554 at the listener
    assert result.outcome in ("recorded", "duplicate", "ignored", "refused")
    registered = {a.lower() for a in members.values()}
    assert {r.recipient.lower() for r in jc.outbox("refusal")} <= registered
