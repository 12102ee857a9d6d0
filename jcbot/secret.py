"""The installation's secret: JCBOT_SECRET, else a development secret kept in storage/.

It signs reply tokens, co-chairs' action links, sign-in links and session cookies
(each use under its own salt or derived key). A fresh machine works without
configuration; a production deployment sets JCBOT_SECRET and keeps it.
"""
from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from jcbot.settings import Settings

log = logging.getLogger(__name__)


def app_secret(settings: Settings) -> bytes:
    """JCBOT_SECRET, else a development secret kept in storage/secret (made once, mode 0600)."""
    if settings.secret:
        return settings.secret.encode("utf-8")
    path = Path(settings.storage_dir) / "secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret.{os.getpid()}.{secrets.token_hex(4)}")
        tmp.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        tmp.chmod(0o600)
        try:
            # link() fails if another process made the file first: both then read the same secret.
            os.link(tmp, path)
            log.warning("JCBOT_SECRET is not set: tokens and links use a development secret kept in %s", path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip().encode("ascii")
