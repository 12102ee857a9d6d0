"""Outgoing mail is DKIM-signed when a key is configured: what the real SMTP server receives verifies."""
from __future__ import annotations

import base64
import subprocess

import dkim

from tests.integration.email.test_email_outgoing import dispatcher, smtp_settings


async def test_every_distribution_arrives_signed(committee_factory, smtp_server, tmp_path):
    private = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=private, capture_output=True,
                            check=True).stdout
    (tmp_path / "dkim.pem").write_bytes(private)
    jc = committee_factory(**smtp_settings(smtp_server), JCBOT_DKIM_SELECTOR="jc2026",
                           JCBOT_DKIM_PRIVATE_KEY=str(tmp_path / "dkim.pem"))
    assert await dispatcher(jc).run_once() == 4
    records = {b"jc2026._domainkey.jcm-mn.example.org.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}
    for m in await smtp_server.wait_for_async(4):
        assert m.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(m.data, dnsfunc=lambda name, timeout=5: records.get(name))
