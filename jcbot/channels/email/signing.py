"""DKIM signatures on outgoing mail (dkimpy), when JCBOT_DKIM_SELECTOR and JCBOT_DKIM_PRIVATE_KEY are set.

Signed at send time, after rendering and the Date header, just before SMTP: the
signature covers the exact bytes that go out. Relaxed/relaxed canonicalisation, so a
relay that refolds headers or changes trailing whitespace does not break it. The
members' mail systems can then tell jcbot's notices from forgeries of them.
"""
from __future__ import annotations

import asyncio
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path

from jcbot.channels.email.headers import with_date
from jcbot.services.dispatcher import PermanentFailure
from jcbot.settings import Settings

# The headers a reader relies on: who, what, when, which thread, and how the body reads.
# A header listed but absent is signed as absent, so it cannot be added on the way.
SIGNED_HEADERS = ("From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To",
                  "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted")


class DkimSigner:
    """Signs RFC 5322 bytes with one key, as `selector` of the configured or the From domain."""

    def __init__(self, selector: str, private_key: bytes, domain: str | None = None) -> None:
        self.selector, self.private_key, self.domain = selector, private_key, domain

    def sign(self, data: bytes) -> bytes:
        """The message with a DKIM-Signature header prepended; ValueError if it cannot be signed."""
        domain = self.domain or _from_domain(data)
        if not domain:
            raise ValueError("a DKIM signature needs a From address with a domain (or JCBOT_DKIM_DOMAIN)")
        import dkim as dkimpy  # only where mail is signed: dkimpy and dnspython stay out of an unsigned `serve`

        try:
            signature = dkimpy.sign(data, self.selector.encode("ascii"), domain.encode("idna"), self.private_key,
                                    canonicalize=(b"relaxed", b"relaxed"),
                                    include_headers=[h.encode("ascii") for h in SIGNED_HEADERS])
        except dkimpy.DKIMException as exc:
            raise ValueError(str(exc)) from None
        return signature + data


def _from_domain(data: bytes) -> str | None:
    header = BytesHeaderParser(policy=compat32).parsebytes(data).get_all("From") or []
    found = [addr for _, addr in getaddresses([str(h) for h in header]) if "@" in addr]
    return found[0].rpartition("@")[2].lower() if found else None


def dkim_signer(settings: Settings) -> DkimSigner | None:
    """The signer of outgoing mail, or None when DKIM signing is not configured (the key was checked at startup)."""
    if not settings.dkim_selector or not settings.dkim_private_key:
        return None
    key = Path(settings.dkim_private_key).expanduser().read_bytes()
    return DkimSigner(settings.dkim_selector, key, settings.dkim_domain or None)


async def wire_bytes(message_id: int, text: str, signer: DkimSigner | None) -> bytes:
    """The bytes an email is handed over as: its text with the Date of now, DKIM-signed when a signer is given.

    The SMTP sender sends them; the .eml file sender writes them (under a Return-Path):
    one function, so the file is what the relay would have had.
    """
    data = with_date(text).encode("utf-8")
    if signer is None:
        return data
    # RSA takes a few milliseconds: off the event loop. Signed last, so it covers the Date.
    try:
        return await asyncio.to_thread(signer.sign, data)
    except ValueError as exc:  # dkimpy's own errors come as ValueError (DkimSigner.sign)
        raise PermanentFailure(f"outbox message {message_id}: DKIM signing failed: {exc}") from None
