"""Replies from a Maildir (new/, cur/, tmp/): what Postfix, Dovecot or `jcbot dev reply` deliver.

Each file in new/ goes through `inbound.receive`, the intake the LMTP listener uses, and
is moved to cur/ with the Seen flag (`:2,S`) only once that returned, that is once its
transaction committed: a crash before leaves it in new/ to be handled again, and a
message handled twice (moved, but the rename was lost) is recorded once, because
assertions dedupe on the Message-ID. A refused or ignored message is moved too (the
refusal is the answer). A message whose handling raised for a transient cause (the
database) stays in new/ for the next look; any other failure is logged and the message
moved to cur/ flagged (`:2,F`), never retried forever.

Every process may poll one Maildir at once: a rename is atomic, so one of them moves it.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path

from jcbot.channels.email.inbound import InboundResult, receive, transient
from jcbot.channels.email.maildir_folders import ensure
from jcbot.services.context import ServiceContext

__all__ = ["deliver", "ensure", "handle_file", "poll_once"]
log = logging.getLogger(__name__)
SEEN = ":2,S"
FAILED = ":2,F"
_SEQ = count()


def _unique() -> str:
    # The classic Maildir name: time, a per-process unique part, the host (no '/' or ':').
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    return f"{time.time_ns() // 1000}.P{os.getpid()}Q{next(_SEQ)}.{host}"


def deliver(root: Path, raw: bytes) -> Path:
    """Write one message as a delivery agent does: into tmp/, then renamed into new/; its path in new/."""
    ensure(root)
    name = _unique()
    fd, tmp = tempfile.mkstemp(dir=root / "tmp", prefix=f"{name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        target = root / "new" / name
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def _move(path: Path, root: Path, flags: str) -> None:
    base = path.name.split(":2,", 1)[0]
    try:
        os.replace(path, root / "cur" / (base + flags))
    except FileNotFoundError:  # another process moved it first
        pass


def handle_file(ctx: ServiceContext, path: Path, root: Path) -> InboundResult | None:
    """Handle one message of new/ and move it to cur/; None when it stays in new/ (transient) or is gone."""
    try:
        raw = path.read_bytes()
        delivered = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except FileNotFoundError:
        return None  # another process took it
    try:
        result = receive(ctx, raw, via="maildir", delivered_at=delivered, delivered_by="Maildir delivery")
    except Exception as exc:
        if transient(exc):
            log.exception("email via maildir: %s left in new/ for the next look", path.name)
            return None
        log.exception("event=email.received channel=email via=maildir file=%s outcome=failed", path.name)
        _move(path, root, FAILED)
        return None
    _move(path, root, SEEN)  # after the intake's transaction committed
    log.debug("email via maildir: %s %s", path.name, result.outcome)
    return result


def poll_once(ctx: ServiceContext, root: Path) -> int:
    """Handle every message in new/ (oldest first); return how many were handled and moved."""
    new = ensure(root) / "new"
    handled = 0
    for path in sorted(new.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or not path.is_file():
            continue
        if handle_file(ctx, path, root) is not None:
            handled += 1
    return handled
