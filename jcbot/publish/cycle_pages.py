"""Pages of the project cycle's public record (templates/site/cycle.html, case.html, input_*.html).

Shared by the live site (jcbot.web.cases) and the static copy (`jcbot publish`). The
static copy has no form: a case open for inputs links to its live page instead.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from jcbot.publish.cycle import KIND_LABELS, STATE_LABELS, Change, CycleRecord, PublicCase
from jcbot.publish.render import Links, _common, site_env
from jcbot.store.db import iso_utc

CYCLE_ROOT = "../../../"      # from c/{slug}/cases/
CASE_ROOT = "../../../../"    # from c/{slug}/cases/{ref}/


def render_cycle(record: CycleRecord, head, links: Links) -> str:
    """A committee's cycle record: open calls, approved methodologies, projects, issuances, TPEs, every case."""
    return site_env().get_template("cycle.html").render(_common(
        links, CYCLE_ROOT, head, committee=record.committee, record=record, kinds=KIND_LABELS, states=STATE_LABELS))


def render_case(c: PublicCase, head, links: Links, form: dict[str, Any] | None = None) -> str:
    """A case page; `form` (csrf, typed values, errors) shows the public-input form (live site only)."""
    return site_env().get_template("case.html").render(_common(
        links, CASE_ROOT, head, committee=c.committee, c=c, kinds=KIND_LABELS, states=STATE_LABELS, form=form,
        live_url=links.absolute(c.path)))


def render_input_answer(heading: str, lines: list[str], links: Links, root: str, back: str | None = None,
                        alert: bool = False) -> str:
    """The answer to a public input's submission or confirmation (role=status, or role=alert when refused)."""
    return site_env().get_template("input_answer.html").render(_common(
        links, root, None, heading=heading, lines=lines, back=back, alert=alert))


def render_input_confirm(p: Any, csrf: str, links: Links, root: str, back: str, error: str | None = None) -> str:
    """The confirmation page a link opens: a button (a POST), so following the link changes nothing."""
    return site_env().get_template("input_confirm.html").render(_common(
        links, root, None, p=p, csrf=csrf, back=back, error=error))


def cycle_json(record: CycleRecord, head, links: Links, now: datetime) -> str:
    """The committee's cycle record as JSON, each case with its page's address."""
    c = record.committee
    data = record.as_json()
    data["cases"] = [case | {"url": links.absolute(pc.path)} for case, pc in zip(data["cases"], record.cases)]
    out = {"committee": {"slug": c.slug, "name": c.name, "code": c.code, "timezone": c.timezone},
           "generated_at": iso_utc(now), "audit_head": {"event": head[0], "hash": head[1]} if head else None, **data}
    return json.dumps(out, ensure_ascii=False, indent=2) + "\n"


def render_cycle_feed(record: CycleRecord, changes: list[Change], links: Links) -> str:
    """The committee's Atom feed of the cycle: each change of a case's public standing, newest first."""
    c = record.committee
    host = urlsplit(links.base_url).hostname or "localhost"
    updated = max((ch.at for ch in changes), default=c.created_at)
    return site_env().get_template("cycle_feed.atom").render(
        committee=c, changes=changes, links=links, updated=updated, kinds=KIND_LABELS, states=STATE_LABELS,
        feed_id=f"tag:{host},{c.created_at:%Y-%m-%d}:jcbot/{c.slug}/cases")
