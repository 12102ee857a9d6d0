"""Sender authentication: DKIM signatures made with a key generated here, DNS as a dict."""
from __future__ import annotations

import base64
import subprocess

import dkim
import pytest

from jcbot.channels.email.dkim import aligned, check_sender_authenticated

# The key is made with the openssl command (Debian's openssl, installed by `make test`).

MESSAGE = (
    b"From: Taro Yamada <taro@mofa.example.go.jp>\r\n"
    b"To: jc+a4aqz45bplztg65e4n7eg@jcm-mn.example.org\r\n"
    b"Subject: Re: [JC-MN] Proposed decision 2026-07\r\n"
    b"Message-ID: <reply-1@mofa.example.go.jp>\r\n"
    b"\r\n"
    b"Agree\r\n"
)
TRUSTED = {"mx.jcm-mn.example.org"}


@pytest.fixture(scope="module")
def key():
    """An RSA key made for this test run: (PKCS#1 PEM private key, DNS TXT record)."""
    private = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, check=True).stdout
    public = subprocess.run(
        ["openssl", "rsa", "-pubout", "-outform", "DER"], input=private, capture_output=True, check=True
    ).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


class FakeDns:
    """TXT records from a dict; records every query so tests can see what was asked."""

    def __init__(self, records: dict[bytes, bytes]):
        self.records, self.queries = records, []

    def __call__(self, name: bytes, timeout: float = 5):
        self.queries.append(name)
        return self.records.get(name)


def sign(key, message: bytes = MESSAGE, domain: bytes = b"mofa.example.go.jp", **options) -> bytes:
    private, _ = key
    headers = [b"from", b"to", b"subject", b"message-id"]
    return dkim.sign(message, b"jc2026", domain, private, include_headers=headers, **options) + message


def dns_for(key, domain: bytes = b"mofa.example.go.jp") -> FakeDns:
    return FakeDns({b"jc2026._domainkey." + domain + b".": key[1]})


def test_a_valid_signature_of_the_from_domain_passes(key):
    dns = dns_for(key)
    result = check_sender_authenticated(sign(key), "mofa.example.go.jp", TRUSTED, dnsfunc=dns)
    assert result.ok, result.reason
    assert "mofa.example.go.jp" in result.reason
    assert dns.queries == [b"jc2026._domainkey.mofa.example.go.jp."]


def test_a_parent_domain_signature_passes(key):
    message = MESSAGE.replace(b"@mofa.example.go.jp>", b"@dept.mofa.example.go.jp>")
    result = check_sender_authenticated(sign(key, message), "dept.mofa.example.go.jp", TRUSTED, dnsfunc=dns_for(key))
    assert result.ok, result.reason


def test_a_valid_signature_of_another_domain_fails(key):
    dns = dns_for(key, b"attacker.example.net")
    result = check_sender_authenticated(sign(key, domain=b"attacker.example.net"), "mofa.example.go.jp", TRUSTED, dnsfunc=dns)
    assert not result.ok
    assert "d=attacker.example.net, not mofa.example.go.jp" in result.reason


def test_a_lookalike_domain_is_not_a_parent(key):
    assert aligned("example.go.jp", "mofa.example.go.jp")
    assert not aligned("ofa.example.go.jp", "mofa.example.go.jp")
    assert not aligned("", "mofa.example.go.jp")


@pytest.mark.parametrize(
    "change",
    [
        (b"Agree\r\n", b"Object - forged\r\n"),  # the body
        (b"Subject: Re:", b"Subject: Fwd:"),  # a signed header
    ],
)
def test_a_message_changed_after_signing_fails(key, change):
    signed = sign(key).replace(*change)
    result = check_sender_authenticated(signed, "mofa.example.go.jp", TRUSTED, dnsfunc=dns_for(key))
    assert not result.ok
    assert "DKIM signature 1" in result.reason


def test_a_key_missing_from_dns_fails(key):
    result = check_sender_authenticated(sign(key), "mofa.example.go.jp", TRUSTED, dnsfunc=FakeDns({}))
    assert not result.ok
    assert "not authenticated" in result.reason


def test_an_unsigned_message_without_results_fails_and_says_so():
    result = check_sender_authenticated(MESSAGE, "mofa.example.go.jp", TRUSTED, dnsfunc=FakeDns({}))
    assert not result.ok
    assert "no DKIM signature" in result.reason and "no Authentication-Results header" in result.reason


def test_a_signature_over_part_of_the_body_fails(key):
    signed = sign(key, length=True) + b"Object - appended after signing\r\n"
    result = check_sender_authenticated(signed, "mofa.example.go.jp", TRUSTED, dnsfunc=dns_for(key))
    assert not result.ok
    assert "l=" in result.reason


def test_a_second_from_header_fails(key):
    signed = sign(key)
    forged = b"From: Batbayar <batbayar@mecc.example.gov.mn>\r\n" + signed
    result = check_sender_authenticated(forged, "mofa.example.go.jp", TRUSTED, dnsfunc=dns_for(key))
    assert not result.ok
    assert "2 From headers" in result.reason


def test_the_from_header_must_be_in_the_domain_checked(key):
    result = check_sender_authenticated(sign(key), "mecc.example.gov.mn", TRUSTED, dnsfunc=dns_for(key))
    assert not result.ok
    assert "not in mecc.example.gov.mn" in result.reason


def _with_results(value: str) -> bytes:
    return f"Authentication-Results: {value}\r\n".encode() + MESSAGE


@pytest.mark.parametrize(
    "value",
    [
        "mx.jcm-mn.example.org; dkim=pass header.d=mofa.example.go.jp header.s=jc2026; spf=pass",
        "MX.JCM-MN.example.org 1; spf=fail smtp.mailfrom=x; dkim=pass (2048-bit key) header.i=@example.go.jp",
        "mx.jcm-mn.example.org;\r\n\tdmarc=pass (p=reject dis=none) header.from=mofa.example.go.jp",
    ],
)
def test_a_trusted_results_header_with_a_pass_passes(value):
    result = check_sender_authenticated(_with_results(value), "mofa.example.go.jp", TRUSTED, dnsfunc=FakeDns({}))
    assert result.ok, result.reason
    assert "mx.jcm-mn.example.org" in result.reason


@pytest.mark.parametrize(
    "value, why",
    [
        ("mx.attacker.example.net; dkim=pass header.d=mofa.example.go.jp", "untrusted mx.attacker.example.net"),
        ("mx.jcm-mn.example.org; dkim=fail header.d=mofa.example.go.jp", "reports no pass"),
        ("mx.jcm-mn.example.org; dkim=pass header.d=attacker.example.net", "reports no pass"),
        ("mx.jcm-mn.example.org; dmarc=pass header.from=example.go.jp", "reports no pass"),
        ("mx.jcm-mn.example.org; dmarc=pass", "reports no pass"),
        ("mx.jcm-mn.example.org; dkim=pass (header.d=mofa.example.go.jp)", "reports no pass"),
    ],
)
def test_results_headers_that_do_not_vouch_fail(value, why):
    result = check_sender_authenticated(_with_results(value), "mofa.example.go.jp", TRUSTED, dnsfunc=FakeDns({}))
    assert not result.ok
    assert why in result.reason
