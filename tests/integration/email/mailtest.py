"""Helpers of the email tests: a committee with members and a distributed proposal, SQLite or PostgreSQL.

Imported as tests.integration.email.mailtest: this folder has no __init__.py, because
tests/integration has none and a package named `email` would shadow the standard library's.
"""
from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import make_msgid
from pathlib import Path

import aiosmtplib
import pytest
from sqlmodel import select

from jcbot.app import build_context
from jcbot.channels.email.compose import EmailRenderer, reply_secret
from jcbot.channels.email.tokens import make_token, reply_address
from jcbot.clock import ManualClock
from jcbot.resources import rules_dir
from jcbot.services import outgoing, proposals, roster
from jcbot.services.context import ServiceContext
from jcbot.settings import Settings, load_settings
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Member
from jcbot.store.outbox import OutboxMessage

# 07:30 on 3 March 2026 in Ulaanbaatar: day 0 is 3 March, the deadline 24 March 00:00 +08:00.
T0 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
DEADLINE = datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
MAIL_FROM = "jc@jcm-mn.example.org"
SECRET = "integration-test secret, long enough"
TITLE = "Approval of the methodology <MN_AM007> & solar PV"
TEXT = "The Joint Committee approves the methodology MN_AM007.\n\n<b>Baseline</b>: grid emission factor 0.9 & rising."
# handle -> (government, name, email, time zone); smith reads Slack only.
PEOPLE = {
    "tanaka": ("japan", "Tanaka Ichiro", "tanaka@mofa.example.go.jp", "Asia/Tokyo"),
    "bold": ("host", "Tsetseg Bold", "t.bold@mof.example.gov.mn", "Asia/Ulaanbaatar"),
    "sato": ("japan", "Hanako Sato", "hanako.sato.jc@gmail.com", "Europe/Berlin"),
    "dorj": ("host", "Dorj Bat", "dorj@mne.example.gov.mn", None),
    "smith": ("host", "Anna Smith", None, "America/New_York"),
}


def make_settings(tmp_path, db_url: str, **extra: str) -> Settings:
    """Settings of a jcbot under test: its own storage folder and database, no .env."""
    env = {"JCBOT_STORAGE_DIR": str(tmp_path / "storage"), "JCBOT_DATABASE_URL": db_url,
           "JCBOT_MAIL_FROM": MAIL_FROM, "JCBOT_SECRET": SECRET, "JCBOT_PUBLIC_URL": "https://jcbot.example.org"}
    return load_settings(env=env | extra, dotenv=None)


@dataclass
class Committee:
    """The committee under test and what the tests need to address its members."""

    ctx: ServiceContext
    clock: ManualClock
    ref: str
    proposal_id: int
    version_id: int
    members: dict[str, Member] = field(default_factory=dict)

    @property
    def secret(self) -> bytes:
        return reply_secret(self.ctx.settings)

    def token(self, handle: str, proposal_id: int | None = None, version: int = 1) -> str:
        return make_token(self.secret, proposal_id or self.proposal_id, version, self.members[handle].id)

    def reply_to(self, handle: str, proposal_id: int | None = None, version: int = 1) -> str:
        return reply_address("jc", "jcm-mn.example.org", self.token(handle, proposal_id, version))

    def assertions(self) -> list[AssertionRecord]:
        with session_scope(self.ctx.engine) as s:
            return list(s.exec(select(AssertionRecord).order_by(AssertionRecord.id)))

    def outbox(self, kind: str | None = None) -> list[OutboxMessage]:
        with session_scope(self.ctx.engine) as s:
            q = select(OutboxMessage).order_by(OutboxMessage.id)
            rows = list(s.exec(q if kind is None else q.where(OutboxMessage.kind == kind)))
            for row in rows:
                s.expunge(row)
            return as_sent(self.ctx, rows)


def create_committee(ctx: ServiceContext, clock: ManualClock, slug: str = "japan-mongolia",
                     people: dict = PEOPLE, code: str = "MN") -> dict[str, Member]:
    """A committee from the shipped Japan-Mongolia rules (with its own code), its members and both co-chairs."""
    rules = (rules_dir() / "japan-mongolia.yaml").read_text(encoding="utf-8").replace("code: MN", f"code: {code}")
    roster.create_committee(ctx, slug, rules, "japan-mongolia.yaml", "test")
    members = {}
    for handle, (gov, name, email, tz) in people.items():
        members[handle] = roster.add_member(ctx, slug, handle, gov, "test", name=name, email=email, timezone=tz)
    roster.elect_cochair(ctx, slug, "japan", "tanaka", "test")
    roster.elect_cochair(ctx, slug, "host", "bold", "test")
    return members


def distribute(ctx: ServiceContext, slug: str = "japan-mongolia", title: str = TITLE, text: str = TEXT):
    """Draft and distribute one proposal; returns (ref, proposal id, version id)."""
    items = [proposals.Item("methodology_approval", "Installation of solar PV systems", "MN_AM007")]
    p = proposals.draft(ctx, slug, title, text, items, "test")
    v = proposals.distribute(ctx, p.ref, "test", by="tanaka")
    return p.ref, p.id, v.id


@pytest.fixture
def committee_factory(tmp_path, db_url) -> Iterator:
    """Builds the committee under test with extra settings (SMTP server, IMAP mailbox...)."""
    made: list[ServiceContext] = []

    def make(**extra: str) -> Committee:
        clock = ManualClock(T0 - timedelta(days=1))
        settings = make_settings(tmp_path, db_url, **extra)
        ctx = build_context(settings, clock)
        ctx.renderers = [EmailRenderer(settings, strict=True)]  # a template error fails the test
        made.append(ctx)
        members = create_committee(ctx, clock)
        clock.set(T0)
        ref, pid, vid = distribute(ctx)
        return Committee(ctx, clock, ref, pid, vid, members)

    yield make
    for ctx in made:
        ctx.engine.dispose()


REPLIES = Path(__file__).resolve().parents[2] / "fixtures" / "replies"


def reply(model: str, *, to: str, sender: str, message_id: str | None = None, in_reply_to: str | None = None,
          sender_name: str = "") -> bytes:
    """A reply written like tests/fixtures/replies/<model>, sent by `sender` to jcbot's address `to`."""
    msg = message_from_bytes((REPLIES / model).read_bytes(), _class=EmailMessage, policy=default)
    for name in ("To", "From", "Message-ID", "In-Reply-To", "References", "Return-Path"):
        del msg[name]
    msg["From"] = Address(sender_name, addr_spec=sender)
    msg["To"] = to
    msg["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    if in_reply_to:
        msg["In-Reply-To"] = msg["References"] = in_reply_to
    return msg.as_bytes(policy=default.clone(linesep="\r\n"))  # as on the wire


def as_sent(ctx: ServiceContext, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """Detached outbox rows with each notice rendered as the dispatcher sends it (payload = {message, ...})."""
    [renderer] = [r for r in ctx.renderers if r.channel == "email"]
    for row in rows:
        if row.channel == "email" and outgoing.is_notice(row.payload):
            [mail] = renderer.render(outgoing.from_payload(row.payload))
            row.payload = mail.payload
    return rows


def parsed(row: OutboxMessage) -> EmailMessage:
    """The email an outbox row holds."""
    return message_from_bytes(row.payload["message"].encode(), _class=EmailMessage, policy=default)


def text_of(row: OutboxMessage) -> str:
    """The subject and every text part of an outbox email, decoded: what its recipient can read."""
    msg = parsed(row)
    parts = [p.get_content() for p in msg.walk() if p.get_content_maintype() == "text"]
    return "\n".join([str(msg["Subject"]), *parts])


def deliver(listener, raw: bytes, sender: str, rcpts: list[str]) -> None:
    """Hand a message to jcbot's listener the way an MTA does (LMTP with smtplib, SMTP with aiosmtplib)."""
    if listener.protocol == "lmtp":
        with smtplib.LMTP(listener.hostname, listener.port) as client:
            client.sendmail(sender, rcpts, raw)
    else:
        asyncio.run(aiosmtplib.send(raw, sender=sender, recipients=rcpts, hostname=listener.hostname,
                                    port=listener.port, start_tls=False))


def send(listener, jc: Committee, model: str, *, handle: str = "sato", sender: str | None = None,
         to: str | None = None, **kw) -> None:
    """Deliver a reply modelled on a corpus file, from `sender` (default: the member) to their reply address."""
    sender = sender or PEOPLE[handle][2]
    to = to or jc.reply_to(handle)
    deliver(listener, reply(model, to=to, sender=sender, **kw), sender, [to])
