"""Delivery status notifications: permanent failures, delays, and what is neither, read without raising."""
from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from jcbot.channels.email.dsn import read_report
from tests.support.dsn import multipart_report, postfix_text

TO = "jc+b-aaaaaaaaaaaaaaaaaa@jcm-mn.example.org"


def parsed(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, _class=EmailMessage, policy=default)


def test_a_multipart_report_of_a_failure():
    report = read_report(parsed(multipart_report(TO, "hanako@example.com")))
    assert report.verdict == "failed" and report.source == "dsn"
    assert report.recipient == "hanako@example.com"
    assert report.diagnostic == "550 5.1.1 <hanako@example.com>: Recipient address rejected: User unknown"


def test_a_failure_without_a_diagnostic_shows_its_status():
    report = read_report(parsed(multipart_report(TO, "a@example.com", status="5.2.2", diagnostic="")))
    assert (report.verdict, report.diagnostic) == ("failed", "5.2.2")


def test_a_delay_is_only_a_delay():
    report = read_report(parsed(multipart_report(TO, "a@example.com", action="delayed", status="4.4.1",
                                                 diagnostic="smtp; 451 4.4.1 try again later")))
    assert report.verdict == "delayed" and "4.4.1" in report.diagnostic


def test_a_success_report_is_no_failure():
    report = read_report(parsed(multipart_report(TO, "a@example.com", action="delivered", status="2.0.0",
                                                 diagnostic="")))
    assert report.verdict == "unknown"


def test_a_postfix_style_plain_text_bounce():
    report = read_report(parsed(postfix_text(TO, "hanako@example.com")))
    assert report.verdict == "failed" and report.source == "text"
    assert report.recipient == "hanako@example.com"
    assert "550 5.1.1" in report.diagnostic and "User unknown" in report.diagnostic
    assert "2.0.0" not in report.diagnostic  # the quoted original is never read


def test_plain_text_that_only_quotes_the_original():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "postmaster@example.com", TO, "failure notice"
    msg.set_content("Hi. This is the qmail-send program.\nI'm afraid I wasn't able to deliver your message.\n"
                    "Sorry, I couldn't find any host named example.invalid. (#5.1.2)\n\n"
                    "--- Below this line is a copy of the message.\n\nSubject: hello\n")
    report = read_report(parsed(msg.as_bytes()))
    assert report.verdict == "failed" and "5.1.2" in report.diagnostic


@pytest.mark.parametrize("body, subject", [
    ("I am out of the office until Monday.", "Out of office"),
    ("", ""),
])
def test_an_auto_reply_to_the_envelope_sender_is_no_bounce(body, subject):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "hanako@example.com", TO, subject
    msg.set_content(body)
    assert read_report(parsed(msg.as_bytes())).verdict == "unknown"


@pytest.mark.parametrize("raw", [
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"
    b"Content-Type: message/delivery-status\r\n\r\nAction: failed\r\nStatus: 5.0.0\r\n--x--\r\n",
    b"Content-Type: multipart/report; boundary=\"\"\r\n\r\ngarbage",
    b"Content-Type: text/plain; charset=\"\x00bogus\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!",
    b"",
])
def test_malformed_reports_never_raise(raw):
    read_report(parsed(raw))
