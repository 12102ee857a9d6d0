"""docs/email.md's Postfix set-up, run as written, with Debian's Postfix and a real mail client.

The test reads the fenced blocks of "Postfix on the same machine" (jcbot's settings,
the main.cf lines, the recipients and transport files) out of docs/email.md, so the doc
and this test cannot drift, and changes only ports and the folder of the files. It runs
a private Postfix instance (its own main.cf, master.cf, queue and log in a temporary
folder; `postfix -c DIR start`, as root) that listens on one loopback port and can
deliver only to jcbot's LMTP listener and to the members' Maildirs: every other route is
`error:`, so nothing leaves the machine. Around the doc's lines the test adds only what a
machine has anyway: the members' own mail system (jc.example, Maildirs, where oyun has no
mailbox) and the paths.

`jcbot serve` sends a distribution through Postfix; three members answer it with s-nail
in batch mode (`reply`, which uses the Reply-To and In-Reply-To of the copy Postfix
delivered to their Maildir) through the same Postfix, which hands the replies to jcbot
over LMTP; the third affirmation adopts the proposal (oyun affirmed on the web). Oyun's
copy cannot be delivered: Postfix sends its delivery report to the message's VERP
envelope sender, which the doc routes to jcbot, and `jcbot outbox list` shows it bounced.
"""
from __future__ import annotations

import json
import mailbox
import os
import pwd
import re
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from support import service_missing
from support.ports import free_port, poll
from tests.e2e.serve_helpers import MEMBERS, free_http_port, prepare, serve_env, start_serve

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[2] / "docs" / "email.md"
MEMBERS_DOMAIN = "jc.example"  # serve_helpers.prepare registers handle@jc.example
NO_MAILBOX = "oyun"  # affirms on the web; their copy bounces
ERROR = "error:5.7.1 this test's Postfix delivers nowhere else"

# One service per line, all unchrooted (the instance's files are outside any chroot). No
# smtp/relay client: a message routed anywhere but LMTP, virtual or error stays queued.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
lmtp      unix  - - n -   - lmtp
virtual   unix  - n n -   - virtual
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def doc_blocks() -> dict[str, str]:
    """The fenced blocks of docs/email.md whose first line is `# NAME`, by NAME (without that line)."""
    blocks: dict[str, str] = {}
    for m in re.finditer(r"^( *)```[^\n]*\n(.*?)^\1```", DOC.read_text(), re.MULTILINE | re.DOTALL):
        first, _, rest = textwrap.dedent(m.group(2)).partition("\n")
        if first.startswith("# "):
            blocks[first[2:].strip()] = rest
    return blocks


def doc_env() -> dict[str, str]:
    """The doc's `.env` block as a dict."""
    pairs = (line.split("=", 1) for line in doc_blocks()[".env"].splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def main_cf_lines(text: str) -> dict[str, str]:
    """`name = value` lines of a main.cf snippet (no continuation lines in the doc's)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and not line[0].isspace(), f"not a main.cf line: {line!r}"
            out[name.strip()] = value.strip()
    return out


VARIANTS = {
    # jc.example.org is jcbot's own domain (the doc's main steps)...
    "relay_domain": "/etc/postfix/main.cf",
    # ...or already a local domain of this Postfix (the doc's alternative step 2).
    "local_domain": "/etc/postfix/main.cf, when jc.example.org is in mydestination",
}


@dataclass
class Postfix:
    """A private Postfix instance, configured from docs/email.md."""

    dir: Path
    port: int
    env: dict[str, str]  # jcbot's settings from the doc, with this instance's ports

    @property
    def conf(self) -> Path:
        return self.dir / "conf"

    def maildir(self, handle: str) -> Path:
        return self.dir / "mail" / MEMBERS_DOMAIN / handle

    def log(self) -> str:
        path = self.dir / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([shutil.which("postfix") or "/usr/sbin/postfix", "-c", str(self.conf), *args],
                              capture_output=True, text=True, timeout=60)

    def copies(self, handle: str, kind: str) -> list[EmailMessage]:
        """The messages of one notice kind delivered to a member's Maildir (new/ and cur/)."""
        found = []
        for sub in ("new", "cur"):
            folder = self.maildir(handle) / sub
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                msg = message_from_bytes(path.read_bytes(), policy=policy.default)
                if msg["X-Jcbot-Notice"] == kind:
                    found.append(msg)
        return found

    def reply_with_s_nail(self, handle: str, body: str) -> EmailMessage:
        """The member answers their distribution with s-nail in batch mode through this Postfix; the message sent."""
        sender, record = f"{handle}@{MEMBERS_DOMAIN}", self.dir / f"sent-{handle}.mbox"
        # -#: batch mode (commands and compose-mode escapes from stdin); -:/ loads no
        # resource file; errexit: a message not sent exits non-zero; nosave: no dead.letter.
        # `reply` honours Reply-To and sets In-Reply-To and References.
        script = f"reply @x-jcbot-notice@distribution\n{body}\n~.\nquit\n"
        done = subprocess.run(
            [shutil.which("s-nail") or "s-nail", "-#", "-:/", "-S", "v15-compat", "-S", "errexit", "-S", "nosave",
             "-S", f"mta=smtp://127.0.0.1:{self.port}", "-S", "smtp-auth=none", "-S", f"from={sender}",
             "-S", f"hostname={MEMBERS_DOMAIN}", "-S", "reply-to-honour=yes", "-S", f"record={record}",
             "-f", str(self.maildir(handle))],
            input=script, capture_output=True, text=True, timeout=60, env={**os.environ, "LC_ALL": "C.UTF-8"})
        assert done.returncode == 0, f"s-nail failed ({done.returncode}): {done.stdout}{done.stderr}"
        (sent,) = mailbox.mbox(record, create=False)  # s-nail keeps a copy of what it sent (record)
        return message_from_bytes(sent.as_bytes(), policy=policy.default)


def _write_instance(base: Path, variant: str, port: int, lmtp_port: int) -> dict[str, str]:
    """Write main.cf (the test's paths and the members' domain, then the doc's lines), master.cf and the doc's files."""
    blocks, env = doc_blocks(), doc_env()
    # What the doc says jcbot and Postfix use; the test moves only the ports.
    assert (env["JCBOT_SMTP_HOST"], env["JCBOT_SMTP_PORT"], env["JCBOT_SMTP_SECURITY"]) == ("127.0.0.1", "25", "none")
    doc_lmtp = f"lmtp:inet:{env['JCBOT_INBOUND_LMTP_HOST']}:{env['JCBOT_INBOUND_LMTP_PORT']}"
    conf, mail, data = base / "conf", base / "mail", base / "data"
    for d in (conf, base / "queue", mail, data):
        d.mkdir()
    postfix_user, nobody = pwd.getpwnam("postfix"), pwd.getpwnam("nobody")
    os.chown(data, postfix_user.pw_uid, postfix_user.pw_gid)
    os.chown(mail, nobody.pw_uid, nobody.pw_gid)

    def local(text: str) -> str:  # the doc's files live in conf/, not /etc/postfix/
        return text.replace("/etc/postfix/", f"{conf}/")

    for name in ("jcbot_recipients", "jcbot_transport"):
        text = blocks[f"/etc/postfix/{name}"]
        if name == "jcbot_transport":
            assert doc_lmtp in text, f"the transport file does not name jcbot's listener {doc_lmtp}"
            text = text.replace(doc_lmtp, f"lmtp:inet:127.0.0.1:{lmtp_port}")
        (conf / name).write_text(text)
    jcbot_domain = env["JCBOT_REPLY_ADDRESS"].rpartition("@")[2]
    (conf / "mailboxes").write_text("".join(f"{h}@{MEMBERS_DOMAIN} {MEMBERS_DOMAIN}/{h}/\n"
                                            for h, _ in MEMBERS if h != NO_MAILBOX))
    # The members' mail system takes any address at jc.example and bounces the unknown
    # ones after accepting them (a DSN, as a remote MX would send one); everything else is
    # checked as Postfix does by default (smtpd_reject_unlisted_recipient = yes).
    (conf / "members_access").write_text(f"{MEMBERS_DOMAIN} OK\n")
    scaffold = {
        "compatibility_level": "3.6",
        "queue_directory": str(base / "queue"), "data_directory": str(data), "meta_directory": "/etc/postfix",
        "maillog_file": str(base / "maillog"), "maillog_file_prefixes": str(base),
        "inet_interfaces": "loopback-only", "inet_protocols": "ipv4",
        "myhostname": env["JCBOT_TRUSTED_RECEIVED_BY"],
        "mydestination": jcbot_domain if variant == "local_domain" else "",
        "alias_maps": "", "alias_database": "",
        "default_transport": ERROR, "relay_transport": ERROR, "local_transport": ERROR,
        "virtual_mailbox_domains": MEMBERS_DOMAIN, "virtual_mailbox_base": str(mail),
        "virtual_mailbox_maps": f"texthash:{conf}/mailboxes",
        "virtual_uid_maps": f"static:{nobody.pw_uid}", "virtual_gid_maps": f"static:{nobody.pw_gid}",
        # A 451 from jcbot (its database busy) is retried within seconds, not minutes.
        "queue_run_delay": "1s", "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
        "smtpd_reject_unlisted_recipient": "no",
        "smtpd_recipient_restrictions": f"check_recipient_access texthash:{conf}/members_access, reject_unlisted_recipient",
    }
    doc = main_cf_lines(local(blocks[VARIANTS[variant]]))
    assert not scaffold.keys() & doc.keys(), "the test must not override the doc's main.cf lines"
    (conf / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in {**scaffold, **doc}.items()))
    (conf / "master.cf").write_text(MASTER_CF.format(port=port))
    return {**env, "JCBOT_SMTP_PORT": str(port), "JCBOT_INBOUND_LMTP_PORT": str(lmtp_port)}


@pytest.fixture(params=sorted(VARIANTS))
def postfix(request):
    """A running private Postfix instance for one variant of the doc's main.cf."""
    for tool in ("postfix", "s-nail"):
        if not (shutil.which(tool) or Path("/usr/sbin", tool).exists()):
            service_missing(f"{tool} is not installed")
    if os.geteuid() != 0:
        service_missing("postfix start needs root")
    # Not pytest's tmp_path: Postfix's unprivileged processes and the virtual delivery
    # agent (as nobody) must traverse the folder.
    base = Path(tempfile.mkdtemp(prefix="jcbot-postfix-"))
    base.chmod(0o755)
    instance = None
    try:
        for _attempt in range(3):  # a probed port may be taken before Postfix binds it
            port, lmtp_port = free_port(), free_port()
            for child in base.iterdir():
                shutil.rmtree(child)
            instance = Postfix(base, port, _write_instance(base, request.param, port, lmtp_port))
            started = instance.run("start")
            if started.returncode == 0 and _accepts(port):
                break
            instance.run("stop")
        else:
            raise AssertionError(f"postfix did not start: {started.stdout}{started.stderr}\n{instance.log()}")
        yield instance
    finally:
        if instance is not None:
            instance.run("stop")
            pid_file = base / "queue" / "pid" / "master.pid"
            poll(lambda: not _alive(pid_file), 20, "postfix master to exit")
        shutil.rmtree(base, ignore_errors=True)


def _accepts(port: int) -> bool:
    try:
        poll(lambda: smtplib.SMTP("127.0.0.1", port, timeout=5).quit(), 10, "postfix smtpd")
        return True
    except TimeoutError:
        return False


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text().strip()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def _db(env) -> sqlite3.Connection:
    return sqlite3.connect(f"{env['JCBOT_STORAGE_DIR']}/jcbot.sqlite")


def _version(env, ref):
    return _db(env).execute(
        "SELECT v.status, v.basis FROM proposal_version v JOIN proposal p ON p.id = v.proposal_id WHERE p.ref = ?",
        (ref,)).fetchone()


def _bounced(env) -> bool:
    return bool(_db(env).execute("SELECT 1 FROM outbox_message WHERE status = 'bounced' AND kind = 'distribution'")
                .fetchone())


def _outbox_problems(env) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "jcbot", "outbox", "list", "--json"], env=env,
                          capture_output=True, text=True, timeout=60, cwd=env["JCBOT_STORAGE_DIR"])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_doc_postfix_setup_carries_a_distribution_s_nail_replies_to_adoption_and_a_bounce(postfix, tmp_path):
    env = serve_env(tmp_path, postfix.port, free_http_port(), **postfix.env)
    reply_local, _, jcbot_domain = env["JCBOT_REPLY_ADDRESS"].partition("@")
    ref = prepare(env, datetime.now(UTC), affirm=(NO_MAILBOX,))
    served = start_serve(env, tmp_path / "serve.log")
    answering = [h for h, _ in MEMBERS if h != NO_MAILBOX]
    try:
        for handle in answering:
            (copy,) = poll(lambda h=handle: postfix.copies(h, "distribution"), 30, f"{handle}'s distribution")
            # Delivered by this Postfix, with the per-message bounce address as envelope
            # sender and the member's own reply address.
            assert f"by {env['JCBOT_TRUSTED_RECEIVED_BY']} (Postfix)" in copy["Received"]
            assert re.fullmatch(rf"<{reply_local}\+b-[a-z2-7]+@{re.escape(jcbot_domain)}>", copy["Return-Path"])
            assert re.fullmatch(rf"{reply_local}\+[a-z2-7]+@{re.escape(jcbot_domain)}", copy["Reply-To"])
            sent = postfix.reply_with_s_nail(handle, "AFFIRM")
            # What a member's client does with "reply": to the Reply-To, in the distribution's thread.
            assert sent["To"] == copy["Reply-To"] and sent["In-Reply-To"] == copy["Message-ID"], sent
        status = poll(lambda: _version(env, ref)[0] == "adopted" and _version(env, ref), 30, "adoption")
        assert status == ("adopted", "unanimous")
        rows = _db(env).execute("SELECT member, position, channel, note FROM assertion ORDER BY member").fetchall()
        by_mail = {m: (pos, note) for m, pos, channel, note in rows if channel == "email"}
        assert sorted(by_mail) == sorted(answering)
        assert {pos for pos, _ in by_mail.values()} == {"affirmative"}
        # Dated by the Received header of the Postfix the doc names as trusted.
        assert all(env["JCBOT_TRUSTED_RECEIVED_BY"] in (note or "") for _, note in by_mail.values()), by_mail
        # Oyun's copy: accepted, then bounced by the members' mail system to the VERP
        # address, which the doc routes to jcbot.
        poll(lambda: _bounced(env), 30, "the bounced distribution")
        bounced = [m for m in _outbox_problems(env) if m["status"] == "bounced" and m["kind"] == "distribution"]
        assert [m["recipient"] for m in bounced] == [f"{NO_MAILBOX}@{MEMBERS_DOMAIN}"]
        assert "5.1.1" in bounced[0]["last_error"], bounced
        _assert_only_listed_addresses_accepted(postfix)
    except BaseException:
        print(f"--- jcbot serve log\n{served.log.read_text()}\n--- postfix log\n{postfix.log()}")
        raise
    finally:
        assert served.stop() == 0, served.log.read_text()
    # postlogd writes the log shortly after each delivery.
    log = poll(lambda: (text := postfix.log()).count("status=sent (250 2.0.0 recorded)") >= len(answering) and text,
               10, "the replies' deliveries in Postfix's log")
    # The replies and the reports reached jcbot over LMTP, none refused (a 451 is retried).
    lmtp = re.findall(rf"relay=127\.0\.0\.1\[127\.0\.0\.1\]:{env['JCBOT_INBOUND_LMTP_PORT']}, .*status=(\w+) \((.*)\)", log)
    assert lmtp and all(s in ("sent", "deferred") for s, _ in lmtp), log
    # As docs/email.md says the log shows them: each reply `status=sent (250 2.0.0 recorded)`.
    assert [r for _, r in lmtp].count("250 2.0.0 recorded") == len(answering), log
    # Nothing went anywhere else: every delivery was to a Maildir or to jcbot.
    relays = set(re.findall(r" relay=([^,]+),", log))
    assert relays <= {"virtual", f"127.0.0.1[127.0.0.1]:{env['JCBOT_INBOUND_LMTP_PORT']}"}, relays


def _assert_only_listed_addresses_accepted(postfix: Postfix) -> None:
    """Any other address at jcbot's domain is refused while the sender is connected: no backscatter."""
    local, _, domain = postfix.env["JCBOT_REPLY_ADDRESS"].partition("@")
    with smtplib.SMTP("127.0.0.1", postfix.port, timeout=10) as smtp:
        smtp.ehlo("members.example")
        assert smtp.mail("someone@members.example")[0] == 250
        assert smtp.rcpt(f"{local}+anything@{domain}")[0] == 250
        code, text = smtp.rcpt(f"stranger@{domain}")
        assert code == 550, text
