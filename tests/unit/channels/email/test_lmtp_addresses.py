"""The listener reads MAIL FROM / RCPT TO addresses exactly as aiosmtpd does, plain ones by a pattern."""
from __future__ import annotations

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jcbot.channels.email import lmtp
from jcbot.channels.email.lmtp import ListenerLMTP, ListenerSMTP, ReplyListener

# Pieces of envelope arguments: plain and odd local parts and domains, and what may follow the address.
_LOCAL = st.sampled_from(["m001", "a.b", "jc+abcdefghijklmnopqrstu", "A+B=C", "o'brien", "x" * 70, "a..b", ".a",
                          "a.", "\"q q\"", "ü", "=?utf-8?q?x?=", "a(c)", "a b", "", "{|}~#$%&*/^`!?_-", "a=?b"])
_DOMAIN = st.sampled_from(["b", "members.bench.example", "EX.org", "-b", "b.", "b..c", "[1.2.3.4]", "ü.example",
                           "a b", "", "b(c)", "x" * 300])
_AFTER = st.sampled_from(["", " SIZE=123", "  SIZE=1", " SIZE=1 BODY=8BITMIME", " (comment) SIZE=1", "x",
                          "\tSIZE=1", " ", " SIZE=1 ", "<c@d>", " <c@d>", " (", " \"q\"", " =?utf-8?q?x?="])
_SHAPE = st.sampled_from(["<{l}@{d}>{a}", "{l}@{d}{a}", "<@route:{l}@{d}>{a}", "< {l}@{d} >{a}", "<{l}@{d}{a}",
                          "<>{a}", "<{l}>{a}", "{l}{a}"])


def _both(cls_ours, cls_theirs, limit: int = 0):
    ours, theirs = cls_ours(Sink()), cls_theirs(Sink())
    ours.local_part_limit = theirs.local_part_limit = limit
    return ours, theirs


def _reads(server, arg: str):
    try:
        return server._getaddr(arg)
    except Exception as exc:  # noqa: BLE001 - both must fail alike too
        return type(exc)


@settings(max_examples=400)
@given(_SHAPE, _LOCAL, _DOMAIN, _AFTER, st.sampled_from([0, 64]))
@example("<{l}@{d}>{a}", "m001", "members.bench.example", " SIZE=123", 0)
@example("<{l}@{d}>{a}", "x" * 70, "b", "", 64)  # over the local part limit: refused by both
@example("<{l}@{d}>{a}", "=?utf-8?q?x?=", "b", "", 0)  # an encoded word, which aiosmtpd decodes
@example("<{l}@{d}>{a}", "a", "b", " (comment) SIZE=1", 0)  # a comment after the address is dropped
@example("<{l}@{d}>{a}", "a", "b", "  SIZE=1", 0)  # so is folding white space
def test_every_argument_reads_as_aiosmtpd_reads_it(shape, local, domain, after, limit):
    arg = shape.format(l=local, d=domain, a=after)
    for ours_cls, theirs_cls in ((ListenerLMTP, LMTP), (ListenerSMTP, SMTP)):
        ours, theirs = _both(ours_cls, theirs_cls, limit)
        assert _reads(ours, arg) == _reads(theirs, arg), arg


@pytest.mark.parametrize("arg, expected", [
    ("<m001@members.bench.example> SIZE=2345", ("m001@members.bench.example", "SIZE=2345")),
    ("<jc+abcdefghijklmnopqrstu@jcm.example.org>", ("jc+abcdefghijklmnopqrstu@jcm.example.org", "")),
])
def test_a_plain_address_is_read_without_aiosmtpd(arg, expected, monkeypatch):
    # The pattern answers alone: aiosmtpd's reader is not called for the usual form.
    def fail(self, arg):
        raise AssertionError("aiosmtpd's reader was called")

    monkeypatch.setattr(SMTP, "_getaddr", fail)
    assert ListenerLMTP(Sink())._getaddr(arg) == expected


def test_any_other_form_goes_to_aiosmtpd(monkeypatch):
    calls = []
    monkeypatch.setattr(SMTP, "_getaddr", lambda self, arg: calls.append(arg) or ("x@y", ""))
    for arg in ("<\"q q\"@b>", "<a@[1.2.3.4]>", "a@b", "<=?utf-8?q?x?=@b>", "<a@b>x", "<>"):
        assert ListenerSMTP(Sink())._getaddr(arg) == ("x@y", "")
    assert len(calls) == 6


@pytest.mark.parametrize("protocol, cls", [("lmtp", ListenerLMTP), ("smtp", ListenerSMTP)])
def test_the_listener_serves_with_the_pattern_reader(protocol, cls):
    listener = ReplyListener.__new__(ReplyListener)
    listener.protocol = protocol
    listener.handler, listener.SMTP_kwargs = Sink(), {}
    server = listener.factory()
    assert type(server) is cls and type(server)._getaddr is lmtp._PlainAddresses._getaddr


def test_a_served_delivery_reads_its_envelope_through_the_pattern(monkeypatch):
    # If aiosmtpd stopped calling _getaddr (a rename), the override would silently go unused: this fails then.
    import smtplib

    from aiosmtpd.controller import Controller

    read = []
    ours = lmtp._PlainAddresses._getaddr
    monkeypatch.setattr(lmtp._PlainAddresses, "_getaddr", lambda self, arg: read.append(arg) or ours(self, arg))
    received = []

    class Keep:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append((envelope.mail_from, envelope.rcpt_tos))
            return "250 2.0.0 OK"

    class Served(Controller):
        def factory(self):
            return ListenerLMTP(self.handler, **self.SMTP_kwargs)

        def _trigger_server(self):  # LMTP does not answer aiosmtpd's SMTP self-check greeting as it expects
            if self.port == 0 and self.server is not None:
                self.port = self.server.sockets[0].getsockname()[1]
            super()._trigger_server()

    served = Served(Keep(), hostname="127.0.0.1", port=0)
    served.start()
    try:
        with smtplib.LMTP("127.0.0.1", served.port, timeout=30) as client:
            client.sendmail("m001@members.example", ["jc+abcdefghijklmnopqrstu@jcm.example.org"], b"Subject: x\r\n\r\nAgree\r\n")
    finally:
        served.stop()
    assert received == [("m001@members.example", ["jc+abcdefghijklmnopqrstu@jcm.example.org"])]
    assert [arg.split()[0] for arg in read] == ["<m001@members.example>", "<jc+abcdefghijklmnopqrstu@jcm.example.org>"]
