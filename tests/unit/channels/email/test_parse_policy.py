"""`parse_message` (each header parsed once, headers.READING) reads every message as `email.policy.default` does.

The intake parsed with the stdlib's modern policy until the bench showed its header
registry parsing a reply's Content-Type about 25 times over. Each reading below is made
from both parses and compared: the reply corpus of mail clients, delivery reports, the
inputs fuzzing found, and the fuzzing strategies' hostile mail.
"""
from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import default

import pytest
from hypothesis import given, settings

from jcbot.channels.email import headers
from jcbot.channels.email.autoreply import auto_reply_hits
from jcbot.channels.email.bounces import bounce_tokens
from jcbot.channels.email.dsn import read_report
from jcbot.channels.email.limits import bound
from jcbot.channels.email.parse import parse_message, read_reply
from jcbot.channels.email.quoting import body_text
from jcbot.channels.email.received import received_instant
from jcbot.channels.email.tokens import recipient_addresses
from tests.support.dsn import multipart_report, postfix_text
from tests.unit.channels.email.corpus import REPLIES
from tests.unit.channels.email.strategies import emails

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
TRUSTED = ("mx.example.org", "mx.jcm-mn.example.org")
HEADER, BODY = 64 * 1024, 256 * 1024


def _safe(read, msg):
    try:
        return read(msg)
    except Exception as exc:  # noqa: BLE001 - both parses must fail alike too
        return ("raised", type(exc).__name__)


def readings(msg: EmailMessage) -> dict:
    """Everything the intake reads from a message, as comparable values."""
    return {
        "reply": read_reply(msg, reply_local="jc"),
        "any reply": read_reply(msg),
        "auto": _safe(lambda m: [(rule.name, seen) for rule, seen in auto_reply_hits(m)], msg),
        "body": _safe(body_text, msg),
        "report": read_report(msg),
        "received": received_instant(msg, TRUSTED, NOW),
        "recipients": _safe(recipient_addresses, msg),
        "bounce tokens": _safe(lambda m: bounce_tokens(m, "jc"), msg),
        "subject": _safe(lambda m: headers.header_values(m, "Subject"), msg),
        "types": _safe(lambda m: [(p.get_content_type(), p.get_content_charset(), p.get_filename(),
                                   p.get_content_disposition(), p.get("Content-Transfer-Encoding"))
                                  for p in m.walk()], msg),
    }


def assert_same_reading(raw: bytes) -> None:
    bounded = bound(raw, HEADER, BODY)
    if bounded.problem:
        return
    before = readings(message_from_bytes(bounded.raw, _class=EmailMessage, policy=default))
    assert readings(parse_message(bounded.raw)) == before
    head = bound(raw, HEADER, 0).raw
    assert (received_instant(parse_message(head, headers_only=True), TRUSTED, NOW)
            == received_instant(BytesHeaderParser(policy=default).parsebytes(head), TRUSTED, NOW))


CORPUS = sorted(p.name for p in REPLIES.glob("*.eml"))
FOUND_BY_FUZZING = [
    b"From: a@b.example\r\nTo: jc+abc@x.example\r\nContent-Type: text/plain; charset=\"ut\x00f-8\"\r\n\r\nyes\r\n",
    b"From: " + b"(" * 2000 + b"<a@b.example>\r\n\r\nyes\r\n",
    b"From: a@b.example\r\nTo: " + b",\r\n ".join([b"x%d@y.example" % i for i in range(4000)]) + b"\r\n\r\nyes\r\n",
    b"From: " + b"a," * 30_000 + b"<a@b.example>\r\n\r\nyes\r\n",
    # A Content-Type longer than what is kept parsed, and malformed ones.
    b"From: a@b.example\r\nContent-Type: text/plain; x=\"" + b"y" * 5000 + b"\"; charset=utf-8\r\n\r\nyes\r\n",
    b"From: a@b.example\r\nContent-Type: text/\r\n plain; charset=utf-8\r\n\r\nyes\r\n",
    b"From: a@b.example\r\nContent-Type: =?utf-8?q?text/html?=\r\n\r\n<p>yes</p>\r\n",
    b"From: a@b.example\r\nMessage-ID: <a@b> <c@d>\r\nSubject: =?utf-8?b?w6k=?= =?utf-8?b?w6k=?=\r\n\r\nyes\r\n",
    b"From: a@b.example\r\nSubject: caf\xc3\xa9 \xff\r\nContent-Type: text/plain; charset*=utf-8''%C3%A9\r\n\r\nyes\r\n",
]


@pytest.mark.parametrize("name", CORPUS)
def test_every_corpus_reply_reads_as_with_the_default_policy(name):
    assert_same_reading((REPLIES / name).read_bytes())


@pytest.mark.parametrize("raw", [
    multipart_report("jc+b-abc@jcm-mn.example.org", "gone@example.com"),
    multipart_report("jc@jcm-mn.example.org", "slow@example.com", action="delayed", status="4.4.1"),
    postfix_text("jc+b-abc@jcm-mn.example.org", "gone@example.com"),
    *FOUND_BY_FUZZING,
], ids=lambda raw: raw[:24].decode("ascii", "replace"))
def test_reports_and_malformed_mail_read_as_with_the_default_policy(raw):
    assert_same_reading(raw)


@settings(deadline=None)
@given(emails())
def test_hostile_mail_reads_as_with_the_default_policy(raw):
    assert_same_reading(raw)


def test_a_header_value_is_parsed_once_however_often_it_is_read():
    raw = (REPLIES / "gmail_yes.eml").read_bytes().replace(b"000000000000a1b2c3062e4f5a6b", b"policy-test-boundary-1")
    headers._parsed.cache_clear()
    read_reply(parse_message(raw), reply_local="jc")
    info = headers._parsed.cache_info()
    # Read about 28 times (the parser, get_body, the readers); a handful of distinct values.
    assert info.misses <= 10 and info.hits >= 15, info


def test_a_long_value_is_read_but_not_kept():
    value = "text/plain; x=\"" + "y" * 5000 + "\""
    headers._parsed.cache_clear()
    msg = parse_message(f"From: a@b.example\r\nContent-Type: {value}\r\n\r\nyes\r\n".encode())
    assert msg.get_content_type() == "text/plain" and msg.get_param("x") == "y" * 5000
    assert headers._parsed.cache_info().currsize == 0


def test_a_header_object_set_by_a_program_is_kept_as_it_is():
    msg = parse_message(b"From: a@b.example\r\n\r\nyes\r\n")
    msg["Subject"] = made = default.header_factory("Subject", "made here")
    assert msg["Subject"] is made
