"""Bounces after acceptance (issue 14): the envelope sender names the message, and its DSN marks it bounced.

A distribution goes through the real aiosmtpd server with MAIL FROM = its own bounce
address; a delivery report to that address, fed through the intake, shows the member's
lost message in `jcbot outbox list`, the dashboard's delivery problems and `jcbot pending`.
Forged, delayed and unknown reports change nothing and are never answered.
"""
from __future__ import annotations

import asyncio
import os
import smtplib

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from jcbot.channels.email.bounces import make_bounce_token
from jcbot.channels.email.inbound import receive
from jcbot.channels.email.lmtp import start_listener
from jcbot.cli import app
from jcbot.cli.common import reset_context
from jcbot.services import board
from jcbot.services.viewers import viewer
from jcbot.store import outbox
from jcbot.store.db import session_scope
from jcbot.store.audit import AuditEvent
from tests.integration.email.mailtest import PEOPLE, SECRET
from tests.integration.email.test_email_outgoing import dispatcher, smtp_settings
from tests.support.dsn import multipart_report, postfix_text

SATO = PEOPLE["sato"][2]


def run_cli(jc, monkeypatch, *args: str):
    for key in list(os.environ):
        if key.startswith("JCBOT_") and not key.startswith("JCBOT_TEST_"):
            monkeypatch.delenv(key)
    s = jc.ctx.settings
    monkeypatch.setenv("JCBOT_DATABASE_URL", s.database_url)
    monkeypatch.setenv("JCBOT_STORAGE_DIR", s.storage_dir)
    monkeypatch.setenv("JCBOT_SECRET", SECRET)
    monkeypatch.setenv("JCBOT_MAIL_FROM", s.mail_from)
    reset_context()
    try:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    finally:
        reset_context()
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def statuses(jc) -> dict[str, str]:
    return {row.recipient: row.status for row in jc.outbox("distribution")}


@pytest.fixture
async def sent(committee_factory, smtp_server):
    """The committee with its distribution sent; (jc, {recipient: received message})."""
    jc = committee_factory(**smtp_settings(smtp_server))
    assert await dispatcher(jc).run_once() == 4
    got = {m.rcpt_tos[0]: m for m in await smtp_server.wait_for_async(4)}
    return jc, got


async def test_a_dsn_to_the_bounce_address_marks_the_message_bounced(sent, monkeypatch):
    jc, got = sent
    [renderer] = jc.ctx.renderers
    rows = {row.recipient: row for row in jc.outbox("distribution")}
    for rcpt, m in got.items():
        # Each message's envelope sender is its own bounce address; the From stays jcbot's.
        assert m.mail_from == renderer.bounce_address(rows[rcpt].id)
        assert m.mail_from.startswith("jc+b-") and m.mail_from.endswith("@jcm-mn.example.org")
        assert m.message["From"].addresses[0].addr_spec == "jc@jcm-mn.example.org"
    assert len({m.mail_from for m in got.values()}) == 4

    result = receive(jc.ctx, multipart_report(got[SATO].mail_from, SATO), via="test")
    assert (result.outcome, result.rule, result.bounced, result.answered) == ("ignored", "bounce", rows[SATO].id, False)
    assert statuses(jc)[SATO] == "bounced"
    assert {s for r, s in statuses(jc).items() if r != SATO} == {"sent"}
    with session_scope(jc.ctx.engine) as s:
        [problem] = outbox.problems(s)
        assert (problem.id, problem.status) == (rows[SATO].id, "bounced")
        assert "550 5.1.1" in problem.last_error and "User unknown" in problem.last_error
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "outbox.bounced")).one().subject == \
            f"outbox:{rows[SATO].id}"
    assert not jc.outbox("refusal")  # a report is never answered

    # The co-chairs' dashboard shows it among the committee's delivery problems.
    with jc.ctx.read("test") as tx:
        who = viewer(tx.session, PEOPLE["tanaka"][2], tx.now)
    [mine] = board.board(jc.ctx, who)
    assert [(m.id, m.status) for m in mine.problems] == [(rows[SATO].id, "bounced")]

    listed = run_cli(jc, monkeypatch, "outbox", "list").stdout
    assert SATO in listed and "bounced" in listed and "550 5.1.1" in listed
    pending = run_cli(jc, monkeypatch, "pending").stderr
    assert f"sato <{SATO}>: distribution bounced" in pending

    # A second report about the same message keeps the first diagnostic.
    receive(jc.ctx, postfix_text(got[SATO].mail_from, SATO, said="550 5.7.1 blocked"), via="test")
    with session_scope(jc.ctx.engine) as s:
        assert "User unknown" in outbox.problems(s)[0].last_error


async def test_a_plain_text_bounce_marks_it_too(sent):
    jc, got = sent
    result = receive(jc.ctx, postfix_text(got[SATO].mail_from, SATO), via="test")
    assert result.bounced is not None and statuses(jc)[SATO] == "bounced"


async def test_the_recipients_are_read_once_and_an_unreadable_report_still_bounces(sent, monkeypatch):
    from jcbot.channels.email import bounces, parse

    jc, got = sent
    calls = []

    def counted(msg):
        calls.append(msg)
        return read(msg)

    read = parse.recipient_addresses
    monkeypatch.setattr(parse, "recipient_addresses", counted)
    monkeypatch.setattr(bounces, "recipient_addresses", counted)
    result = receive(jc.ctx, postfix_text(got[SATO].mail_from, SATO), via="test")
    assert result.bounced is not None and len(calls) == 1  # the reading's, reused by the bounce rule

    # A message read_reply cannot read has no recipients in its reading: the bounce rule reads them itself.
    statuses_before = statuses(jc)
    rows = {row.recipient: row for row in jc.outbox("distribution")}
    monkeypatch.setattr(parse, "auto_reply_hits", lambda msg: 1 / 0)
    bold = PEOPLE["bold"][2]
    result = receive(jc.ctx, postfix_text(got[bold].mail_from, bold), via="test")
    assert (result.rule, result.bounced) == ("bounce", rows[bold].id)
    assert statuses(jc) == {**statuses_before, bold: "bounced"} and len(calls) == 3


async def test_a_delay_forged_or_unknown_report_changes_nothing_and_is_never_answered(sent):
    jc, got = sent
    before = statuses(jc)
    delayed = multipart_report(got[SATO].mail_from, SATO, action="delayed", status="4.4.1",
                               diagnostic="smtp; 451 4.4.1 try later")
    forged = multipart_report(f"jc+b-{make_bounce_token(b'not our secret, not at all', 1)}@jcm-mn.example.org", SATO)
    garbage = multipart_report("jc+b-zzzzzzzzzzzzzzzzzzzz@jcm-mn.example.org", SATO)
    unknown = multipart_report(f"jc+b-{make_bounce_token(jc.secret, 999_999)}@jcm-mn.example.org", SATO)
    for raw in (delayed, forged, garbage, unknown):
        result = receive(jc.ctx, raw, via="test")
        assert (result.outcome, result.rule, result.bounced, result.answered) == ("ignored", "bounce", None, False)
    assert statuses(jc) == before
    assert not jc.outbox("refusal")
    with session_scope(jc.ctx.engine) as s:
        assert outbox.problems(s) == []


async def test_a_dsn_over_lmtp_is_read_from_the_envelope_recipient(sent):
    # Issue 14: mail servers deliver a DSN to the bounce address it was sent to, which may
    # be named only in the envelope (RCPT TO); the report's To is any address (here the
    # plain sender) and it has no Delivered-To or X-Original-To.
    jc, got = sent
    bounce = got[SATO].mail_from
    raw = multipart_report("jc@jcm-mn.example.org", SATO)
    assert b"+b-" not in raw  # the token is nowhere in the message itself
    forged = f"jc+b-{make_bounce_token(b'not our secret, not at all', 1)}@jcm-mn.example.org"
    listener = start_listener(jc.ctx, host="127.0.0.1", port=0, protocol="lmtp")
    try:
        # To the plain address or a forged bounce address: an automatic message, ignored.
        for rcpt in ("jc@jcm-mn.example.org", forged):
            answer = await asyncio.to_thread(lmtp_data, listener, [rcpt], raw)
            assert answer[0] == 250 and b"ignored" in answer[1]
        assert statuses(jc)[SATO] == "sent"
        # To the message's own bounce address (as the MTA delivers it): marked bounced.
        answer = await asyncio.to_thread(lmtp_data, listener, [bounce], raw)
        assert answer[0] == 250 and b"ignored" in answer[1]
    finally:
        listener.stop()
    assert statuses(jc)[SATO] == "bounced"
    assert {s for r, s in statuses(jc).items() if r != SATO} == {"sent"}
    assert not jc.outbox("refusal")


def lmtp_data(listener, rcpts: list[str], raw: bytes) -> tuple[int, bytes]:
    """Deliver `raw` over LMTP from the null sender (as a DSN comes) to `rcpts`; the answer to DATA."""
    with smtplib.LMTP(listener.hostname, listener.port, timeout=60) as client:
        client.ehlo()
        client.mail("<>")
        for rcpt in rcpts:
            client.rcpt(rcpt)
        return client.data(raw)


def test_bounce_tokens_read_the_envelope_first_then_the_headers():
    from email import message_from_bytes

    from jcbot.channels.email.bounces import bounce_tokens

    msg = message_from_bytes(b"To: jc+b-headertoken@x.org\r\nSubject: r\r\n\r\nx\r\n")
    assert bounce_tokens(msg, "jc", ["jc+b-envelopetoken@x.org", "other+b-nope@x.org"]) == \
        ("envelopetoken", "headertoken")
    assert bounce_tokens(msg, "jc") == ("headertoken",)


@pytest.mark.parametrize("header", ["Delivered-To", "X-Original-To"])
async def test_a_dsn_naming_its_bounce_address_only_in_a_delivery_header_marks_it_too(sent, header):
    # A Maildir or IMAP delivery has no envelope: the local delivery agent wrote the address
    # it delivered to as Delivered-To (Postfix, Dovecot) or X-Original-To (Postfix).
    jc, got = sent
    raw = multipart_report("jc@jcm-mn.example.org", SATO)
    result = receive(jc.ctx, f"{header}: {got[SATO].mail_from}\r\n".encode() + raw, via="maildir")
    rows = {row.recipient: row.id for row in jc.outbox("distribution")}
    assert (result.outcome, result.rule, result.bounced) == ("ignored", "bounce", rows[SATO])
    assert statuses(jc)[SATO] == "bounced"
    assert {s for r, s in statuses(jc).items() if r != SATO} == {"sent"}
