"""DKIM signatures on outgoing mail: a rendered notice signed with a key made here verifies, and breaks when altered."""
from __future__ import annotations

import base64
import re
import subprocess

import dkim
import pytest

from jcbot.channels.email.compose import EmailRenderer
from jcbot.channels.email.headers import with_date
from jcbot.channels.email.signing import DkimSigner, dkim_signer
from jcbot.settings import SettingsError, load_settings
from tests.unit.channels.email.test_compose import notice

DOMAIN = "jcm-mn.example.org"


@pytest.fixture(scope="module")
def key():
    """An RSA key made for this test run with openssl (as test_dkim.py): (PEM private key, DNS TXT record)."""
    private = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=private, capture_output=True,
                            check=True).stdout
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def dns(records: dict[bytes, bytes]):
    return lambda name, timeout=5: records.get(name)


def settings(tmp_path, **extra):
    env = {"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_MAIL_FROM": f"jc@{DOMAIN}",
           "JCBOT_SECRET": "unit-test secret for signing"}
    return load_settings(env=env | extra, dotenv=None)


def rendered(tmp_path) -> bytes:
    [row] = EmailRenderer(settings(tmp_path), strict=True).render(notice("distribution"))
    return with_date(row.payload["message"]).encode("utf-8")  # as the SMTP sender hands it over


def test_a_signed_notice_verifies_against_the_published_key(tmp_path, key):
    private, txt = key
    signed = DkimSigner("jc2026", private).sign(rendered(tmp_path))
    assert dkim.verify(signed, dnsfunc=dns({f"jc2026._domainkey.{DOMAIN}.".encode(): txt}))
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    assert header.startswith("DKIM-Signature:")
    fields = re.sub(r"\s+", "", header.split("\r\n\r\n")[0])
    assert f"d={DOMAIN};" in fields and "s=jc2026;" in fields and "c=relaxed/relaxed;" in fields
    signed_headers = re.search(r"h=([^;]+);", fields).group(1).lower().split(":")
    assert {"from", "to", "subject", "date", "message-id", "reply-to", "content-type"} <= set(signed_headers)


@pytest.mark.parametrize("alter", [
    lambda m: m.replace(b"\r\nSubject:", b"\r\nSubject: URGENT", 1),
    lambda m: m.replace(b"\r\nTo:", b"\r\nTo: Mallory <mallory@example.net>,", 1),
    lambda m: m + b"Pay to account 1234.\r\n",
])
def test_a_message_altered_after_signing_fails(tmp_path, key, alter):
    private, txt = key
    signed = DkimSigner("jc2026", private).sign(rendered(tmp_path))
    altered = alter(signed)
    assert altered != signed
    assert not dkim.verify(altered, dnsfunc=dns({f"jc2026._domainkey.{DOMAIN}.".encode(): txt}))


def test_the_configured_domain_signs_instead_of_the_from_domain(tmp_path, key):
    private, txt = key
    signed = DkimSigner("s1", private, "example.org").sign(rendered(tmp_path))
    assert b"d=example.org;" in signed.split(b"\r\n\r\n", 1)[0]
    assert dkim.verify(signed, dnsfunc=dns({b"s1._domainkey.example.org.": txt}))


def test_settings_check_the_key_at_startup(tmp_path, key):
    path = tmp_path / "dkim.pem"
    path.write_bytes(key[0])
    signer = dkim_signer(settings(tmp_path, JCBOT_DKIM_SELECTOR="jc2026", JCBOT_DKIM_PRIVATE_KEY=str(path)))
    assert signer is not None and signer.selector == "jc2026" and signer.domain is None
    assert dkim_signer(settings(tmp_path)) is None  # not configured: nothing is signed

    def problem(**extra) -> str:
        with pytest.raises(SettingsError) as caught:
            settings(tmp_path, **extra)
        [line] = caught.value.problems
        return line

    assert "set both" in problem(JCBOT_DKIM_SELECTOR="jc2026")
    assert "set both" in problem(JCBOT_DKIM_PRIVATE_KEY=str(path))
    missing = tmp_path / "nowhere.pem"
    assert f"cannot read {missing}" in problem(JCBOT_DKIM_SELECTOR="s", JCBOT_DKIM_PRIVATE_KEY=str(missing))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    assert "holds no RSA private key" in problem(JCBOT_DKIM_SELECTOR="s", JCBOT_DKIM_PRIVATE_KEY=str(junk))
