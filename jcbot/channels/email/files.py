"""The mail sender used when no SMTP server is configured: .eml files a person can open.

A file holds the bytes the SMTP sender would hand to the relay (the Date of sending, the
DKIM signature when a key is configured), under the Return-Path header the final mail
server would add: the envelope sender, which is the message's own bounce address.
"""
from __future__ import annotations

import asyncio
import os
import re
import tempfile
from email.utils import parseaddr
from pathlib import Path

from jcbot.channels.email.compose import EmailRenderer, rendered
from jcbot.channels.email.signing import DkimSigner, wire_bytes
from jcbot.services.dispatcher import PermanentFailure
from jcbot.store.db import storage_dir
from jcbot.store.outbox import Outgoing

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")
# An envelope sender fit for a header line: no line break, no angle bracket, no space.
_UNSAFE_PATH = re.compile(r"[\s<>]")


class FileMailSender:
    """Writes each outgoing email as `<outbox id>-<recipient>.eml` in a folder."""

    def __init__(self, directory: str | os.PathLike | None = None, renderer: EmailRenderer | None = None,
                 signer: DkimSigner | None = None) -> None:
        self.directory = Path(directory) if directory is not None else storage_dir() / "mail"
        # Renders notice payloads at send time; without one, only already rendered messages can be written.
        self.renderer = renderer
        self.signer = signer

    def path_for(self, message: Outgoing) -> Path:
        """Where `message` is (or will be) written."""
        # The bare address ("Alice <a@x.org>" -> a@x.org), only characters safe in file
        # names on every system, and a bounded length.
        address = parseaddr(message.recipient)[1] or message.recipient
        safe = _UNSAFE.sub("_", address).strip("._")[:100] or "recipient"
        return self.directory / f"{message.id}-{safe}.eml"

    async def send(self, message: Outgoing) -> None:
        """Render the message and write its RFC 822 text to its file."""
        payload = await rendered(self.renderer, message)
        text, mail_from = payload.get("message"), payload.get("mail_from")
        if not isinstance(text, str):
            raise PermanentFailure(
                f"outbox message {message.id} is not an email with a 'message' text payload"
            )
        # A Date header at hand-over, as an SMTP sender adds it, so mail clients sort the files.
        data = await wire_bytes(message.id, text, self.signer)
        if isinstance(mail_from, str) and mail_from and not _UNSAFE_PATH.search(mail_from):
            # Above the signature, as a delivering server puts it (it is not signed, so it keeps it valid).
            newline = b"\r\n" if b"\r\n" in data[:2000] else b"\n"
            data = b"Return-Path: <" + mail_from.encode("utf-8") + b">" + newline + data
        await asyncio.to_thread(self._write, self.path_for(message), data)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader (or a crash) never sees half a message, and a
        # resend after a crash replaces the file instead of adding a second one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
