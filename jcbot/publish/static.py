"""`jcbot publish --out DIR`: the public record written as a static site for any web server.

Layout (the live site's paths): index.html, static/site.css, and per committee
c/{slug}/index.html, c/{slug}/feed.atom, c/{slug}/decisions.json,
c/{slug}/decisions/{number}/index.html.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jcbot.publish import record, render
from jcbot.services.context import ServiceContext
from jcbot.store import audit


class PublishError(RuntimeError):
    """The record cannot be published (a broken audit chain)."""


@dataclass(frozen=True)
class PublishResult:
    """What was written: files, decisions, the chain head the copy carries."""

    files: int
    decisions: int
    committees: int
    head: tuple[int, str] | None


def _write(path: Path, text: str) -> None:
    # Write-then-rename: a web server serving DIR never sees half a page.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
                files += 1
                decisions += 1
        _write(out / "index.html", render.render_index(rows, head, links))
        _write(out / "static" / "site.css", render.stylesheet())
    return PublishResult(files + 2, decisions, len(committees), head)
