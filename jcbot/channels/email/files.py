"""The mail sender used when no SMTP server is configured: .eml files a person can open."""
from __future__ import annotations

import asyncio
import os
import re
import tempfile
from email.utils import parseaddr
from pathlib import Path

from jcbot.channels.email.compose import EmailRenderer, rendered
from jcbot.channels.email.headers import with_date
from jcbot.services.dispatcher import PermanentFailure
from jcbot.store.db import storage_dir
from jcbot.store.outbox import Outgoing

_UNSAFE = re.compile(r"[^A-Za-z0-9@._+-]+")


class FileMailSender:
    """Writes each outgoing email as `<outbox id>-<recipient>.eml` in a folder."""

    def __init__(self, directory: str | os.PathLike | None = None, renderer: EmailRenderer | None = None) -> None:
        self.directory = Path(directory) if directory is not None else storage_dir() / "mail"
        # Renders notice payloads at send time; without one, only already rendered messages can be written.
        self.renderer = renderer

    def path_for(self, message: Outgoing) -> Path:
        """Where `message` is (or will be) written."""
        # The bare address ("Alice <a@x.org>" -> a@x.org), only characters safe in file
        # names on every system, and a bounded length.
        address = parseaddr(message.recipient)[1] or message.recipient
        safe = _UNSAFE.sub("_", address).strip("._")[:100] or "recipient"
        return self.directory / f"{message.id}-{safe}.eml"

    async def send(self, message: Outgoing) -> None:
        """Render the message and write its RFC 822 text to its file."""
        text = (await rendered(self.renderer, message)).get("message")
        if not isinstance(text, str):
            raise PermanentFailure(
                f"outbox message {message.id} is not an email with a 'message' text payload"
            )
        # A Date header at hand-over, as an SMTP sender adds it, so mail clients sort the files.
        await asyncio.to_thread(self._write, self.path_for(message), with_date(text))

    def _write(self, path: Path, text: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a reader (or a crash) never sees half a message, and a
        # resend after a crash replaces the file instead of adding a second one.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
