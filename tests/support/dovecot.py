"""A real Dovecot IMAP server for the session, configured entirely inside a temp dir."""

from __future__ import annotations

import email.message
import grp
import imaplib
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from . import service_missing
from .ports import HOST, free_port, poll, read_greeting, stop_process, tail

DEFAULT_USERS = ("jcbot", "member")
POOL_SIZE = 200


@dataclass(frozen=True)
class ImapUser:
    """Credentials of one mailbox on the test Dovecot."""

    username: str
    password: str


def find_dovecot() -> str | None:
    """Return the dovecot binary (Debian puts it in /usr/sbin, often off a user's PATH)."""
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None)


def _config(root: Path, port: int, internal_user: str, login_user: str, as_root: bool) -> str:
    # Everything Dovecot writes (sockets, state, logs, mail) stays under root, so the
    # system's /etc/dovecot and /run/dovecot are never touched or needed.
    chroot_off = "" if as_root else "  chroot =\n"  # chroot needs root
    return f"""\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {HOST}
ssl = no
# Plain LOGIN without TLS: the test clients talk to 127.0.0.1 only.
disable_plaintext_auth = no
auth_mechanisms = plain login
# No 2-second penalty after a failed login: tests (and add_user's readiness poll) fail on purpose.
auth_failure_delay = 0
default_internal_user = {internal_user}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name}
default_login_user = {login_user}
# Mail runs as `nobody` when we are root (uid 0 is refused for mail); allow low uids too.
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
{chroot_off}}}
service anvil {{
{chroot_off}  # No per-IP auth penalty (2..15 s after a failed login from 127.0.0.1): tests
  # fail logins on purpose and must not slow down every later login of the session.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


class DovecotServer:
    """A running Dovecot: host, port, users, and helpers to put mail in and read it back."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.host = HOST
        self.port = 0
        self.as_root = os.geteuid() == 0
        # Not pytest's tmp_path: Dovecot's unprivileged processes must traverse the dir.
        self.dir = Path(tempfile.mkdtemp(prefix="jcbot-dovecot-"))
        self.dir.chmod(0o755)
        self.mail_owner = pwd.getpwnam("nobody") if self.as_root else pwd.getpwuid(os.getuid())
        self.users: dict[str, ImapUser] = {}
        self._proc: subprocess.Popen | None = None
        self._pool: list[str] = []

    @property
    def user(self) -> ImapUser:
        """The first default user (the mailbox jcbot polls)."""
        return self.users[DEFAULT_USERS[0]]

    def add_user(self, username: str | None = None) -> ImapUser:
        """Return a fresh mailbox with a plain password (from a pool made at start when unnamed)."""
        if username is None and self._pool:
            return self.users[self._pool.pop()]
        username = username or f"user{uuid.uuid4().hex[:10]}"
        self._write_users([username])
        # Dovecot re-reads the passwd-file at most once a second, so a user added while
        # it runs needs a readiness check: log in until it works.
        poll(lambda: self._can_login(username), timeout=10, what=f"IMAP user {username}")
        return self.users[username]

    def _can_login(self, username: str) -> bool:
        try:
            self._login(username).logout()
            return True
        except imaplib.IMAP4.error:
            return False

    def _write_users(self, names: list[str]) -> None:
        for name in names:
            self.users[name] = ImapUser(name, f"{name}-secret")
        uid, gid = self.mail_owner.pw_uid, self.mail_owner.pw_gid
        lines = "".join(f"{u.username}:{{PLAIN}}{u.password}:{uid}:{gid}::{self.dir}/mail/{u.username}::\n"
                        for u in self.users.values())
        # Write-then-rename so Dovecot never reads a half-written file.
        tmp = self.dir / "users.tmp"
        tmp.write_text(lines)
        tmp.chmod(0o644)
        tmp.replace(self.dir / "users")

    def start(self) -> None:
        mail = self.dir / "mail"
        mail.mkdir()
        os.chown(mail, self.mail_owner.pw_uid, self.mail_owner.pw_gid)
        # Unnamed add_user() calls take these, so per-test mailboxes cost no reload wait.
        self._pool = [f"pool{i:03d}" for i in range(POOL_SIZE)]
        self._write_users([*DEFAULT_USERS, *self._pool])
        internal = "dovecot" if self.as_root else self.mail_owner.pw_name
        login = "dovenull" if self.as_root else self.mail_owner.pw_name
        conf = self.dir / "dovecot.conf"
        # The probed port may be taken before Dovecot binds it: try a few ports.
        for _attempt in range(3):
            self.port = free_port()
            conf.write_text(_config(self.dir, self.port, internal, login, self.as_root))
            out = open(self.dir / "stdout.log", "ab")
            # -F: stay in the foreground so the Popen is the master process we stop later.
            self._proc = subprocess.Popen([self.binary, "-F", "-c", str(conf)], stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            out.close()
            try:
                poll(self._greeting, timeout=30, what=f"Dovecot on {HOST}:{self.port}")
                return
            except RuntimeError:
                continue  # exited early, most likely the port; next attempt
        raise RuntimeError(f"Dovecot did not start:\n{tail(self.dir / 'stdout.log')}\n"
                           f"{tail(self.dir / 'dovecot.log')}")

    def _greeting(self) -> bytes | None:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"dovecot exited with {self._proc.returncode}")
        line = read_greeting(self.port)
        return line if line.startswith(b"* OK") else None

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _login(self, username: str) -> imaplib.IMAP4:
        conn = imaplib.IMAP4(self.host, self.port, timeout=10)
        conn.login(username, self.users[username].password)
        return conn

    def append(self, username: str, message: bytes | str | email.message.Message,
               mailbox: str = "INBOX", flags: str | None = None, received: float | None = None) -> int | None:
        """APPEND a raw RFC 822 message to a user's mailbox; return its UID (from APPENDUID)."""
        if isinstance(message, email.message.Message):
            message = message.as_bytes()
        elif isinstance(message, str):
            message = message.encode()
        # IMAP wants CRLF line ends; .eml fixtures on disk usually have bare LF.
        message = re.sub(rb"\r?\n", b"\r\n", message)
        conn = self._login(username)
        try:
            # `received` (epoch seconds) sets the INTERNALDATE: when the server received it.
            typ, data = conn.append(mailbox, flags, imaplib.Time2Internaldate(received or time.time()), message)
            if typ != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")
            found = re.search(rb"APPENDUID \d+ (\d+)", data[0] or b"")
            return int(found.group(1)) if found else None
        finally:
            conn.logout()

    def fetch_all(self, username: str, mailbox: str = "INBOX") -> list[tuple[bytes, bytes]]:
        """Return (flags, raw message) of every message in a user's mailbox, in order."""
        conn = self._login(username)
        try:
            conn.select(mailbox, readonly=True)  # readonly: reading must not set \\Seen
            _, ids = conn.search(None, "ALL")
            result = []
            for num in (ids[0] or b"").split():
                _, data = conn.fetch(num, "(FLAGS BODY.PEEK[])")
                flags = re.search(rb"FLAGS \(([^)]*)\)", data[0][0])
                result.append((flags.group(1) if flags else b"", data[0][1]))
            return result
        finally:
            conn.logout()


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[DovecotServer]:
    """A Dovecot IMAP server on 127.0.0.1 for the session, with users `jcbot` and `member`."""
    binary = find_dovecot()
    if binary is None:
        service_missing("Dovecot (`dovecot`, Debian package dovecot-imapd) not found")
    if os.geteuid() == 0:
        for name in ("dovecot", "dovenull", "nobody"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                service_missing(f"system user `{name}` missing (created by Debian's dovecot-core)")
    server = DovecotServer(binary)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_user(dovecot_server: DovecotServer) -> ImapUser:
    """A fresh, empty mailbox on the session's Dovecot, so tests do not see each other's mail."""
    return dovecot_server.add_user()
