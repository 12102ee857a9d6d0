"""Configuration of a running jcbot: JCBOT_* environment variables (and a .env file).

This module is the only reader of the environment (a test checks it): everything else is
handed the Settings, or the folders and URL they name (jcbot.resources, jcbot.store.db).

Declared as data, each with a default and a help line; the README's configuration table
is checked against this list by a test, so a setting cannot go undocumented.
"""
from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Setting:
    """One JCBOT_* variable: its name, default, parser and help line."""

    name: str
    default: str | None
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError(f"expected a port 0-65535, got {text!r}")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {text!r}")
        return text
    return parse


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError(f"expected a number > 0, got {text!r}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(f"expected a whole number >= 1, got {text!r}")
    return value


def _size(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"expected a whole number of bytes >= 0, got {text!r}")
    return value


def _hosts(text: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in text.split(",") if n.strip())
    for name in names:
        if not all(ch.isascii() and (ch.isalnum() or ch in ".-_") for ch in name):
            raise ValueError(f"expected comma-separated host names (e.g. mx.example.org), got {name!r}")
    return names


def _proxies(text: str) -> tuple[str, ...]:
    out = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            try:
                out.append(str(ipaddress.ip_address(part)))
            except ValueError:
                raise ValueError(f"expected comma-separated IP addresses (e.g. 10.0.0.1), got {part!r}") from None
    return tuple(out)


SETTINGS: tuple[Setting, ...] = (
    Setting("JCBOT_STORAGE_DIR", "storage", "Runtime data: the SQLite file, documents, mail written as files, the published site."),
    Setting("JCBOT_DATABASE_URL", None, "SQLAlchemy URL of the database; default a SQLite file in the storage folder. postgresql://... for PostgreSQL."),
    Setting("JCBOT_DB_THREADS", "8", "Service calls the Slack, mail and web channels run at once (a thread pool), and the size of the database connection pool they use.", _count),
    Setting("JCBOT_DOCUMENT_STORE", "files", "Where documents' content is kept: files (under storage/documents/, by SHA-256) or database (a table: replicas on one PostgreSQL share it, one backup holds everything). Documents already stored stay where they were written.", _choice("files", "database")),
    Setting("JCBOT_DOCUMENT_MAX_BYTES", "26214400", "Largest document accepted, in bytes (default 25 MiB); a larger file is refused.", _count),
    Setting("JCBOT_EMAIL_ATTACH_MAX_BYTES", "10485760", "Distribution emails attach a proposal's public documents while their total stays within this many bytes (default 10 MiB); the others, and every confidential one, are signed download links. 0: links only.", _size),
    Setting("JCBOT_DOCUMENT_LINK_DAYS", "30", "Days a signed download link in a notice works, counted from the notice's proposal distribution (default 30).", _count),
    Setting("JCBOT_RULES_DIR", None, "Folder where rules files are looked up by name; default the shipped rules/."),
    Setting("JCBOT_TEMPLATES_DIR", None, "Folder of Jinja2 templates; default the shipped templates/."),
    Setting("JCBOT_SECRET", None, "Secret for reply tokens, sign-in links and session cookies (required by serve outside development; at least 16 characters).", secret=True),
    Setting("JCBOT_PUBLIC_URL", None, "The address people reach jcbot's web pages at (links in messages); default http://HOST:PORT of the HTTP app."),
    Setting("JCBOT_HTTP_HOST", "127.0.0.1", "Interface the HTTP app listens on."),
    Setting("JCBOT_HTTP_PORT", "8080", "Port the HTTP app listens on.", _port),
    Setting("JCBOT_MAIL_FROM", "jcbot@localhost", "Sender address of jcbot's mail."),
    Setting("JCBOT_REPLY_ADDRESS", None, "Address replies go to, as local@domain; each message gets local+token@domain. Default: JCBOT_MAIL_FROM."),
    Setting("JCBOT_SMTP_HOST", None, "SMTP server for outgoing mail; unset: mail is written as .eml files under storage/mail."),
    Setting("JCBOT_SMTP_PORT", "587", "SMTP port.", _port),
    Setting("JCBOT_SMTP_SECURITY", "starttls", "none, starttls or tls (implicit TLS, usually port 465).", _choice("none", "starttls", "tls")),
    Setting("JCBOT_SMTP_USER", None, "SMTP user name (optional)."),
    Setting("JCBOT_SMTP_PASSWORD", None, "SMTP password (optional).", secret=True),
    Setting("JCBOT_SMTP_TIMEOUT", "30", "Seconds before an SMTP attempt is abandoned (and retried later).", _positive),
    Setting("JCBOT_DKIM_SELECTOR", None, "DKIM selector of outgoing mail (with JCBOT_DKIM_PRIVATE_KEY): each email sent over SMTP is signed, and the public key is published at SELECTOR._domainkey.DOMAIN. Unset: no signature."),
    Setting("JCBOT_DKIM_PRIVATE_KEY", None, "File holding the DKIM private key (RSA, PEM) that signs outgoing mail; checked at startup."),
    Setting("JCBOT_DKIM_DOMAIN", None, "Signing domain (d=) of outgoing mail; default the From address's domain."),
    Setting("JCBOT_INBOUND_LMTP_HOST", None, "Interface of jcbot's own LMTP/SMTP listener for replies; unset: no listener."),
    Setting("JCBOT_INBOUND_LMTP_PORT", "8025", "Port of that listener.", _port),
    Setting("JCBOT_INBOUND_PROTOCOL", "lmtp", "lmtp or smtp: the protocol of that listener.", _choice("lmtp", "smtp")),
    Setting("JCBOT_INBOUND_IMAP_HOST", None, "IMAP server to poll for replies; unset: no polling."),
    Setting("JCBOT_INBOUND_IMAP_PORT", "993", "IMAP port.", _port),
    Setting("JCBOT_INBOUND_IMAP_SECURITY", "tls", "none, starttls or tls.", _choice("none", "starttls", "tls")),
    Setting("JCBOT_INBOUND_IMAP_USER", None, "IMAP user name."),
    Setting("JCBOT_INBOUND_IMAP_PASSWORD", None, "IMAP password.", secret=True),
    Setting("JCBOT_INBOUND_IMAP_FOLDER", "INBOX", "Folder polled for replies."),
    Setting("JCBOT_INBOUND_IMAP_DONE_FOLDER", "jcbot-processed", "Folder handled messages are moved to."),
    Setting("JCBOT_INBOUND_IMAP_INTERVAL", "60", "Seconds between IMAP polls.", _positive),
    Setting("JCBOT_INBOUND_MAILDIR", None, "Maildir (new/, cur/, tmp/) jcbot reads replies from, as Postfix or Dovecot deliver them, or `jcbot dev reply` writes them; handled messages move to cur/. Default storage/maildir; off: no Maildir."),
    Setting("JCBOT_INBOUND_MAILDIR_INTERVAL", "2", "Seconds between looks into the Maildir's new/.", _positive),
    Setting("JCBOT_REQUIRE_DKIM", "false", "Accept a reply only with a valid DKIM signature (or trusted Authentication-Results) for the sender's domain.", _bool),
    Setting("JCBOT_TRUSTED_AUTHSERV_IDS", "", "Comma-separated authserv-ids whose Authentication-Results headers are trusted."),
    Setting("JCBOT_REFUSALS_PER_HOUR", "5", "At most this many refusal emails to one address in an hour; a refused reply past it is logged and not answered.", _count),
    Setting("JCBOT_INPUTS_PER_ADDRESS_PER_DAY", "5", "Public inputs one email address may send in 24 hours (all cases); past it the form answers 429.", _count),
    Setting("JCBOT_INPUTS_PER_NETWORK_PER_HOUR", "20", "Public inputs one network (an IPv4 /24 or IPv6 /64) may send in an hour; past it the form answers 429.", _count),
    Setting("JCBOT_INPUTS_UNCONFIRMED_DAYS", "30", "A public input not confirmed this many days after it was sent is deleted (name, address, text); its link then answers as unknown.", _count),
    Setting("JCBOT_TRUSTED_PROXIES", "", "Comma-separated IP addresses of your reverse proxies: only a request coming from one of them is taken to be from the address its X-Forwarded-For names (rate limits of public inputs). Empty: the connection's own address.", _proxies),
    Setting("JCBOT_INBOUND_MAX_HEADER_BYTES", "65536", "A received email whose header is larger is ignored unread (each header field is also cut at 8 KiB).", _count),
    Setting("JCBOT_INBOUND_MAX_BODY_BYTES", "1048576", "Only this much of a received email's body is read (the answer is at its top).", _count),
    Setting("JCBOT_INBOUND_TIMEOUT", "60", "Seconds the listener waits for one message to be handled before answering 451 (the database is too slow now).", _positive),
    Setting("JCBOT_TRUSTED_RECEIVED_BY", "", "Comma-separated host names of your own MTAs (as in `Received: ... by HOST`): a reply to the listener is dated by their topmost Received headers, not at jcbot's receipt.", _hosts),
    Setting("JCBOT_SLACK_BOT_TOKEN", None, "Slack bot token (xoxb-...); unset: Slack is off.", secret=True),
    Setting("JCBOT_SLACK_SIGNING_SECRET", None, "Slack signing secret, to verify requests to /slack/events.", secret=True),
    Setting("JCBOT_SLACK_APP_TOKEN", None, "Slack app-level token (xapp-...): set it to use Socket Mode instead of HTTP.", secret=True),
    Setting("JCBOT_SLACK_API_URL", "https://slack.com/api/", "Base URL of Slack's Web API (tests point it at a local fake)."),
    Setting("JCBOT_SLACK_CHANNEL", None, "Slack channel id (C...) where adoptions, withdrawals and referrals are announced; unset: no announcements."),
    Setting("JCBOT_SWEEP_INTERVAL", "60", "Seconds between reconciliation sweeps of open proposals.", _positive),
    Setting("JCBOT_DISPATCH_INTERVAL", "5", "Seconds between outbox dispatcher runs.", _positive),
    Setting("JCBOT_WORKER_ID", None, "Name of this process's outbox claims; keep it stable across restarts so a restarted process takes its claims back at once. Default: HOSTNAME:HTTP_PORT."),
    Setting("JCBOT_LEADER_INTERVAL", "1", "PostgreSQL replicas: seconds between a follower's tries for the scheduler's leader lock, and the leader's checks that it still holds it.", _positive),
    Setting("JCBOT_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
)
_BY_NAME = {s.name: s for s in SETTINGS}


class SettingsError(ValueError):
    """One or more settings are invalid; `problems` has one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class Settings:
    """The parsed settings, by lower-case name without the JCBOT_ prefix."""

    values: Mapping[str, Any] = field(default_factory=dict)
    # The JCBOT_* names that were set (an option, the environment or .env), not defaulted.
    given: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def storage_path(self) -> Path:
        return Path(self.storage_dir)

    @property
    def inbound_maildir_path(self) -> Path | None:
        """The Maildir replies are read from (JCBOT_INBOUND_MAILDIR, default storage/maildir), None when off."""
        value = self.values.get("inbound_maildir")
        if value is not None and value.strip().lower() == "off":
            return None
        return Path(value) if value else self.storage_path / "maildir"

    @property
    def reply_address(self) -> str:
        return self.values.get("reply_address_raw") or self.mail_from


def _dkim_problems(values: dict[str, Any]) -> list[str]:
    # Checked here, at startup, so that a wrong key path stops jcbot at once instead of
    # failing every message at send time.
    selector, path = values.get("dkim_selector"), values.get("dkim_private_key")
    if not selector and not path:
        return []
    if not selector or not path:
        return ["JCBOT_DKIM_SELECTOR and JCBOT_DKIM_PRIVATE_KEY: set both to sign outgoing mail, or neither"]
    try:
        key = Path(path).expanduser().read_bytes()
    except OSError as exc:
        return [f"JCBOT_DKIM_PRIVATE_KEY: cannot read {path}: {exc.strerror or exc}"]
    from dkim.crypto import parse_pem_private_key  # dkimpy, only when signing is configured

    try:
        parse_pem_private_key(key)
    except Exception:  # noqa: BLE001  (dkimpy raises several kinds for a bad key)
        return [f"JCBOT_DKIM_PRIVATE_KEY: {path} holds no RSA private key in PEM form"]
    return []


def load_settings(env: Mapping[str, str] | None = None, dotenv: Path | None = Path(".env"),
                  overrides: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every JCBOT_* setting; raise SettingsError listing each problem.

    In order: `overrides` (the CLI's --storage/--database), the environment, `.env`.
    """
    source = dict(os.environ if env is None else env)
    if dotenv is not None and env is None and dotenv.is_file():
        from dotenv import dotenv_values

        for key, value in dotenv_values(dotenv).items():
            source.setdefault(key, value or "")
    source.update({k: v for k, v in (overrides or {}).items() if v})
    given = frozenset(k for k, v in source.items() if k.startswith("JCBOT_") and v not in (None, ""))
    problems, values = [], {}
    for key in source:
        if key.startswith("JCBOT_") and key not in _BY_NAME and not key.startswith("JCBOT_TEST_"):
            problems.append(f"{key}: unknown setting (see the README's configuration table)")
    for s in SETTINGS:
        raw = source.get(s.name)
        raw = s.default if raw in (None, "") else raw
        short = s.name.removeprefix("JCBOT_").lower()
        try:
            values[short] = None if raw is None else s.parse(raw)
        except ValueError as exc:
            problems.append(f"{s.name}: {exc}")
    values["reply_address_raw"] = values.pop("reply_address")
    reply = values.get("reply_address_raw") or values.get("mail_from") or ""
    local, at, domain = reply.rpartition("@")
    if not at or not local or not domain or "+" in local:
        problems.append(f"JCBOT_REPLY_ADDRESS/JCBOT_MAIL_FROM: {reply!r} must be local@domain without '+' "
                        "(replies go to local+token@domain)")
    if not problems and not values.get("public_url"):
        values["public_url"] = f"http://{values['http_host']}:{values['http_port']}"
    if values.get("public_url"):
        values["public_url"] = values["public_url"].rstrip("/")
    problems += _dkim_problems(values)
    if values.get("secret") is not None and len(values["secret"]) < 16:
        problems.append("JCBOT_SECRET: too short, use at least 16 random characters")
    if problems:
        raise SettingsError(problems)
    return Settings(values, given)


DATABASE_FILE = "jcbot.sqlite"


@dataclass(frozen=True)
class Located:
    """Where an invocation's data is: settings with the storage found, or why there is none."""

    settings: Settings
    database: Path | None  # the SQLite file (None: a database URL was given)
    problem: str | None = None  # no database there yet: only serve and committee create may make it


def find_project(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding storage/jcbot.sqlite, as git finds .git."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / "storage" / DATABASE_FILE).is_file():
            return folder
    return None


def locate(settings: Settings, cwd: Path) -> Located:
    """The database, in the documented order: --database/--storage, environment, .env, then the project's storage.

    The project's storage is the nearest storage/jcbot.sqlite at or above `cwd`; without one
    the storage is ./storage (where serve and committee create make it).
    """
    if "JCBOT_DATABASE_URL" in settings.given:
        return Located(settings, None)
    if "JCBOT_STORAGE_DIR" in settings.given:
        db = (settings.storage_path / DATABASE_FILE).resolve()
        problem = None if db.is_file() else (
            f"no jcbot database in {settings.storage_path.resolve()} (JCBOT_STORAGE_DIR or --storage): "
            f"{DATABASE_FILE} is not there; check the folder, or create a committee there first")
        return Located(settings, db, problem)
    root = find_project(cwd)
    if root is not None:
        found = Settings({**settings.values, "storage_dir": str(root / "storage")}, settings.given)
        return Located(found, root / "storage" / DATABASE_FILE)
    db = (cwd / settings.storage_dir / DATABASE_FILE).resolve()
    return Located(settings, db, f"no jcbot database found: looked for storage/{DATABASE_FILE} in {cwd.resolve()} "
                                 "and every folder above it; run jcbot in the project's folder, or point at one "
                                 "with --storage DIR (or JCBOT_STORAGE_DIR, JCBOT_DATABASE_URL)")
