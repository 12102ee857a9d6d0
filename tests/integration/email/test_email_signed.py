"""Outgoing mail is DKIM-signed when a key is configured: what the real SMTP server receives verifies."""
from __future__ import annotations

import base64
import dataclasses
import subprocess
import time
from email import message_from_bytes
from email.policy import default

import dkim

from jcbot.channels.email.files import FileMailSender
from jcbot.channels.email.smtp import SmtpSender, email_sender
from jcbot.store.outbox import Outgoing
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


def _key(tmp_path) -> dict[bytes, bytes]:
    """A fresh RSA key at tmp_path/dkim.pem; the DNS record of selector jc2026 that verifies it."""
    private = subprocess.run(["openssl", "genrsa", "-traditional", "2048"], capture_output=True, check=True).stdout
    public = subprocess.run(["openssl", "rsa", "-pubout", "-outform", "DER"], input=private, capture_output=True,
                            check=True).stdout
    (tmp_path / "dkim.pem").write_bytes(private)
    return {b"jc2026._domainkey.jcm-mn.example.org.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)}


async def test_without_smtp_the_eml_file_holds_what_smtp_would_send(committee_factory, smtp_server, tmp_path,
                                                                    monkeypatch):
    # Issue 14: the .eml file of the no-SMTP mode is the message as the relay would get it
    # (signed when a key is configured), under the Return-Path a delivering server adds:
    # the envelope sender, i.e. the message's own bounce address.
    records = _key(tmp_path)
    jc = committee_factory(JCBOT_DKIM_SELECTOR="jc2026", JCBOT_DKIM_PRIVATE_KEY=str(tmp_path / "dkim.pem"))
    files = email_sender(jc.ctx.settings)
    assert isinstance(files, FileMailSender) and files.signer is not None
    # The same jcbot with an SMTP host: what it would send.
    settings = jc.ctx.settings
    smtp = SmtpSender(dataclasses.replace(settings, values={**settings.values, "smtp_host": smtp_server.host,
                                                            "smtp_port": int(smtp_server.port),
                                                            "smtp_security": "none"}), connections=1)
    [renderer] = jc.ctx.renderers
    rows = jc.outbox("distribution")
    assert len(rows) == 4
    # The same instant for both (the Date header and the signature's t=): RSA signing is
    # deterministic, so the bytes must be equal.
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)
    for row in rows:
        out = Outgoing(row.id, row.channel, row.kind, row.recipient, row.dedupe_key, row.payload, 1,
                       row.committee_id, row.proposal_id)
        await files.send(out)
        await smtp.send(out)
    await smtp.close()
    monkeypatch.undo()
    wire = {m.rcpt_tos[0]: m for m in await smtp_server.wait_for_async(4)}
    for row in rows:
        data = files.path_for(row).read_bytes()
        head, _, rest = data.partition(b"\r\n")
        bounce = renderer.bounce_address(row.id)
        assert bounce.startswith("jc+b-") and head == f"Return-Path: <{bounce}>".encode()
        assert wire[row.recipient].mail_from == bounce
        assert rest == wire[row.recipient].data  # byte for byte what went over SMTP
        assert rest.startswith(b"DKIM-Signature:") and b"\r\nDate: " in rest
        assert dkim.verify(data, dnsfunc=lambda name, timeout=5: records.get(name))  # the Return-Path does not break it
        parsed = message_from_bytes(data, policy=default)
        assert parsed["Return-Path"] == f"<{bounce}>" and parsed["To"].addresses[0].addr_spec == row.recipient


async def test_without_a_key_the_eml_file_is_unsigned_with_its_return_path(committee_factory, tmp_path):
    jc = committee_factory()
    files = email_sender(jc.ctx.settings)
    assert isinstance(files, FileMailSender) and files.signer is None
    assert await dispatcher(jc, files).run_once() == 4
    [renderer] = jc.ctx.renderers
    for row in jc.outbox("distribution"):
        data = files.path_for(row).read_bytes()
        assert data.startswith(f"Return-Path: <{renderer.bounce_address(row.id)}>\r\nDate: ".encode())
        assert b"DKIM-Signature" not in data
