"""`jcbot publish --out DIR`: the public record written as a static site for any web server.

Layout (the live site's paths): index.html, static/site.css, and per committee
c/{slug}/index.html, c/{slug}/feed.atom, c/{slug}/decisions.json,
c/{slug}/decisions/{number}/index.html, the project cycle (c/{slug}/cases/index.html,
c/{slug}/cases.json, c/{slug}/cases/feed.atom, c/{slug}/cases/{ref}/index.html), and each decision's public documents under
c/{slug}/decisions/{number}/documents/{name}, copied from the store after their hash is
checked (a document that fails it stops the publication: a copy never holds wrong bytes).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from jcbot.publish import cycle, cycle_pages, record, render
from jcbot.services import documents
from jcbot.services.context import ServiceContext
from jcbot.settings import Settings
from jcbot.store import audit
from jcbot.store.documents import Document


class PublishError(RuntimeError):
    """The record cannot be published (a broken audit chain)."""


@dataclass(frozen=True)
class PublishResult:
    """What was written: files, decisions, the chain head the copy carries."""

    files: int
    decisions: int
    committees: int
    head: tuple[int, str] | None


def _write(path: Path, text: str | bytes) -> None:
    # Write-then-rename: a web server serving DIR never sees half a page.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text if isinstance(text, bytes) else text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _copy_documents(session: Session, settings: Settings, d: record.Published, folder: Path) -> int:
    """Copy a decision's public documents, verified, into `folder`; PublishError if one fails its hash."""
    for doc in d.documents:
        row = session.exec(select(Document).where(Document.sha256 == doc["sha256"])).first()
        try:
            data = documents.content(session, settings, row)  # type: ignore[arg-type]
        except documents.DocumentUnavailable as exc:
            raise PublishError(f"decision {d.number}: {doc['name']} cannot be published: {exc}; nothing more "
                               "was published (attach the same file again to restore it)") from None
        _write(folder / doc["name"], data)
    return len(d.documents)


def _write_cycle(session: Session, base: Path, rec: cycle.CycleRecord, head, links: render.Links, now) -> int:
    """The committee's project cycle: its record, JSON, Atom feed and each case's page (no form: a static copy
    takes no input)."""
    _write(base / "cases" / "index.html", cycle_pages.render_cycle(rec, head, links))
    _write(base / "cases.json", cycle_pages.cycle_json(rec, head, links, now))
    _write(base / "cases" / "feed.atom", cycle_pages.render_cycle_feed(rec, cycle.changes(session, rec), links))
    for pc in rec.cases:
        _write(base / "cases" / pc.ref / "index.html", cycle_pages.render_case(pc, head, links))
    return 3 + len(rec.cases)


def publish(ctx: ServiceContext, out: Path, base_url: str | None = None) -> PublishResult:
    """Render every page of the public record into `out`; refused if the audit chain is broken."""
    links = render.Links(static=True, base_url=base_url or ctx.settings.public_url)
    files = decisions = 0
    with ctx.read("publisher") as tx:
        result = audit.verify(tx.session)
        if not result.ok:
            event_id, reason = result.first_broken  # type: ignore[misc]
            raise PublishError(f"the audit chain is broken at event {event_id}: {reason}; nothing was published")
        head = (result.count, result.head_hash) if result.count else None
        committees = record.committees(tx.session)
        rows = []
        for c in committees:
            ds = record.decisions(tx.session, c)
            rows.append((c, len(ds), ds[0] if ds else None))
            base = out / "c" / c.slug
            _write(base / "index.html", render.render_committee(c, ds, head, links))
            _write(base / "feed.atom", render.render_feed(c, ds, links, tx.now))
            _write(base / "decisions.json", render.committee_json(c, ds, head, links, tx.now))
            files += 3
            for d in ds:
                _write(base / "decisions" / d.number / "index.html", render.render_decision(d, head, links))
                files += 1 + _copy_documents(tx.session, ctx.settings, d, base / "decisions" / d.number / "documents")
                decisions += 1
            files += _write_cycle(tx.session, base, cycle.cycle_record(tx.session, c, tx.now), head, links, tx.now)
        _write(out / "index.html", render.render_index(rows, head, links))
        _write(out / "static" / "site.css", render.stylesheet())
    return PublishResult(files + 2, decisions, len(committees), head)
