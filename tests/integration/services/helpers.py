"""Shared fixtures and helpers for the service tests: a context on a real database.

Outbox rows are the truth about notices: each holds the notice itself (rendering happens
at dispatch), and `outbox()` reads them back with the notice as `payload` and the
recipient's handle as `recipient`, so tests read kind, recipient, key and data.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import Engine, func, select, text
from sqlmodel import SQLModel

from jcbot.clock import ManualClock
from jcbot.resources import resolve_rules
from jcbot.services import proposals, roster
from jcbot.services.context import Notice, Rendered, ServiceContext
from jcbot.settings import load_settings
from jcbot.store.db import init_db, make_engine, session_scope
from jcbot.store.outbox import OutboxMessage

# 07:30 on 3 March in Ulaanbaatar (UTC+8): day 0 of the period is 3 March, and the
# 20-day period of japan-mongolia.yaml ends at 24 March 00:00 local (16:00 UTC on 23 March).
T0 = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
MN_DEADLINE = datetime(2026, 3, 23, 16, 0, tzinfo=UTC)
SECRETARIAT = "secretariat:alice"
ITEMS = [proposals.Item("methodology_approval", "Energy-efficient transformers"),
         proposals.Item("project_registration", "Solar power in Darkhan")]
TABLES = ("committee", "member", "roster_change", "proposal", "proposal_version", "proposal_item", "assertion",
          "meeting", "decision", "counter", "audit_event", "outbox_message")


class RecordingRenderer:
    """A stand-in renderer for one channel (the context enqueues notices for its channel; dispatch is not tested here)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def render(self, notice: Notice) -> list[Rendered]:
        r = notice.recipient
        reachable = r.email if self.channel == "email" else (r.slack_user_id or r.handle.startswith("#"))
        if not reachable:
            return []
        return [Rendered(self.channel, r.handle, {"kind": notice.kind, "key": notice.key, "data": notice.data})]


def rules_text(name: str) -> tuple[str, str]:
    """The text of a shipped rules file and its path."""
    path = resolve_rules(name)
    return path.read_text(encoding="utf-8"), str(path)


def variant(name: str, **replacements: str) -> str:
    """A shipped rules file with some lines replaced (e.g. a smaller cap)."""
    text_, _ = rules_text(name)
    for old, new in replacements.items():
        assert old in text_, old
        text_ = text_.replace(old, new)
    return text_


def new_context(engine: Engine, clock, storage: Path, renderers=None) -> ServiceContext:
    # A committee channel, so announcements reach Slack (jcbot.services.outgoing.address).
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(storage), "JCBOT_SLACK_CHANNEL": "C0COMMITTEE"},
                             dotenv=None)
    return ServiceContext(engine, clock, settings,
                          [RecordingRenderer("email"), RecordingRenderer("slack")] if renderers is None else renderers)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0 - timedelta(days=7))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def ctx(engine, clock, tmp_path) -> ServiceContext:
    return new_context(engine, clock, tmp_path / "storage")


def tick(clock: ManualClock, minutes: int = 1) -> datetime:
    return clock.advance(timedelta(minutes=minutes))


def committee(ctx: ServiceContext, slug: str = "japan-mongolia", rules: str = "japan-mongolia",
              japan=("tanaka", "sato", "suzuki"), host=("bat", "dorj", "tsetseg"),
              cochairs=("tanaka", "bat"), alternates=(("tanaka", "sato"), ("bat", "dorj")),
              text_: str | None = None) -> None:
    """A committee with members (each reachable by email and Slack), co-chairs and alternates."""
    body, source = rules_text(rules)
    roster.create_committee(ctx, slug, text_ or body, source, SECRETARIAT)
    for gov, handles in (("japan", japan), ("host", host)):
        for h in handles:
            roster.add_member(ctx, slug, h, gov, SECRETARIAT, name=h.title(), email=f"{h}@{slug}.example",
                              slack_user_id=f"U{h.upper()}", timezone="Asia/Tokyo" if gov == "japan" else None)
    for seat, h in zip(("japan", "host"), cochairs):
        roster.elect_cochair(ctx, slug, seat, h, SECRETARIAT)
    for cochair, alt in alternates:
        roster.set_alternate(ctx, slug, cochair, alt, SECRETARIAT)


def distributed(ctx: ServiceContext, slug: str = "japan-mongolia", title: str = "Approve MN_AM001 and register MN001",
                items=None, at: datetime = T0) -> str:
    """Draft a bundled proposal and distribute it at `at` (the clock is moved there)."""
    p = proposals.draft(ctx, slug, title, "The Joint Committee decides as follows.", items or ITEMS, SECRETARIAT)
    ctx.clock.set(at)  # type: ignore[attr-defined]
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    return p.ref


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every domain table, the audit record and the outbox."""
    with session_scope(engine) as s:
        return {t: s.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def outbox_rows(engine: Engine, kind: str | None = None, channel: str | None = "email") -> list[OutboxMessage]:
    """Outbox rows (of one kind and channel), oldest first, as stored."""
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        q = q.where(OutboxMessage.kind == kind)
    if channel:
        q = q.where(OutboxMessage.channel == channel)
    with session_scope(engine) as s:
        return list(s.scalars(q))


def outbox(engine: Engine, kind: str | None = None, channel: str | None = "email") -> list[SimpleNamespace]:
    """Outbox rows with `payload` = the notice (kind, key, recipient, data) and `recipient` = its handle."""
    out = []
    for row in outbox_rows(engine, kind, channel):
        notice = row.payload["notice"]
        out.append(SimpleNamespace(**{**row.model_dump(), "payload": notice,
                                      "recipient": notice["recipient"]["handle"], "address": row.recipient}))
    return out


def recipients(engine: Engine, kind: str, channel: str = "email") -> list[str]:
    return sorted(m.recipient for m in outbox(engine, kind, channel))


def rows(engine: Engine, model: type[SQLModel], *where) -> list:
    q = select(model)
    for w in where:
        q = q.where(w)
    with session_scope(engine) as s:
        return list(s.scalars(q.order_by(model.id)))  # type: ignore[attr-defined]


def audit_actions(engine: Engine) -> list[str]:
    with session_scope(engine) as s:
        return list(s.execute(text("SELECT action FROM audit_event ORDER BY id")).scalars())


def current_version(engine: Engine, ref: str):
    """The current version row of proposal `ref`."""
    from jcbot.store.models import Proposal, ProposalVersion

    p = rows(engine, Proposal, Proposal.ref == ref)[0]
    return rows(engine, ProposalVersion, ProposalVersion.proposal_id == p.id,
                ProposalVersion.version == p.current_version)[0]


def count(engine: Engine, model: type[SQLModel]) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()
