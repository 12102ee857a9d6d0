"""Automatic messages: each rule of the table, and the ones that must not hit."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from jcbot.channels.email.autoreply import AUTO_RULES, auto_reply_hits

from .corpus import load


def _msg(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("From", "member@x.org")
    msg["Subject"] = headers.pop("Subject", "Re: [JC-MN] Proposed decision 2026-07")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Agree\n")
    return msg


def _names(msg: EmailMessage) -> list[str]:
    return [rule.name for rule, _seen in auto_reply_hits(msg)]


def test_a_member_reply_hits_no_rule():
    assert _names(_msg(Auto_Submitted="no", Precedence="first-class", X_Autoreply="no")) == []


@pytest.mark.parametrize(
    "headers, rule",
    [
        ({"Auto_Submitted": "auto-replied"}, "auto-submitted"),
        ({"Auto_Submitted": "auto-generated; owner-email=x@y.org"}, "auto-submitted"),
        ({"X_Autoreply": "yes"}, "x-autoreply"),
        ({"X_Autorespond": "Out of office"}, "x-autoreply"),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "auto_reply"}, "precedence"),
        ({"Precedence": "list"}, "precedence"),
        ({"Return_Path": "<>"}, "daemon-sender"),
        ({"From": "MAILER-DAEMON@mx.x.org"}, "daemon-sender"),
        ({"Subject": "Automatic reply: [JC-MN] Proposed decision"}, "auto-subject"),
        ({"Subject": "Out of Office: Re: [JC-MN]"}, "auto-subject"),
        ({"Subject": "Re: [JC-MN] decision [Out of the office]"}, "auto-subject"),
        ({"Subject": "Abwesenheitsnotiz: [JC-MN]"}, "auto-subject"),
        ({"Subject": "Réponse automatique : [JC-MN]"}, "auto-subject"),
        ({"Subject": "自動応答: [JC-MN]"}, "auto-subject"),
        ({"Subject": "不在通知 [JC-MN]"}, "auto-subject"),
        ({"Subject": "Undeliverable: [JC-MN]"}, "auto-subject"),
    ],
)
def test_each_rule_hits(headers, rule):
    assert _names(_msg(**headers)) == [rule]


def test_read_receipt_is_a_report():
    msg = _msg()
    msg.make_mixed()
    receipt = EmailMessage()
    receipt.set_content(b"Final-Recipient: rfc822; a@x.org\n", maintype="message", subtype="disposition-notification")
    msg.attach(receipt)
    assert _names(msg) == ["report"]


def test_bounce_hits_several_rules_and_says_what_it_saw():
    hits = dict((rule.name, seen) for rule, seen in auto_reply_hits(load("bounce_dsn.eml")))
    assert set(hits) == {"auto-submitted", "report", "daemon-sender", "auto-subject"}
    assert hits["report"] == "multipart/report; report-type=delivery-status"


def test_rules_are_named_and_described():
    assert len({rule.name for rule in AUTO_RULES}) == len(AUTO_RULES)
    assert all(rule.description for rule in AUTO_RULES)
