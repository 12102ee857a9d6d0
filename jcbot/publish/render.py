"""Pages of the public record rendered with Jinja2 from templates/site/.

The same functions serve the live site (jcbot.web.site) and the static copy
(`jcbot publish`); only the link style differs (`static=True` links to index.html files).
Every value from a proposal is escaped by autoescape; text keeps its line breaks
through `paragraphs`, which escapes each line before joining them.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from jcbot import __version__
from jcbot.publish.record import KIND_LABELS, Published
from jcbot.resources import templates_dir
from jcbot.store.db import iso_utc
from jcbot.store.models import Committee

_BLANK_LINE = re.compile(r"\n\s*\n")


def paragraphs(text: str) -> Markup:
    """Text as <p> paragraphs (blank lines) with <br> for single line breaks, every line escaped."""
    parts = [p.strip("\n") for p in _BLANK_LINE.split(text.replace("\r\n", "\n").replace("\r", "\n"))]
    html = "".join("<p>" + "<br>\n".join(str(escape(line)) for line in p.split("\n")) + "</p>\n"
                   for p in parts if p.strip())
    return Markup(html)


@lru_cache(maxsize=8)
def environment(folder: str) -> Environment:
    """A Jinja2 environment on one templates folder (site/ or dashboard/), autoescaping HTML and XML."""
    env = Environment(
        loader=FileSystemLoader([folder, str(Path(folder).parent / "site")]),
        autoescape=select_autoescape(["html", "xml", "atom"], default_for_string=True, default=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["paragraphs"] = paragraphs
    env.filters["kind_label"] = lambda kind: KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())
    env.filters["iso"] = iso_utc
    env.globals["version"] = __version__
    return env


def site_env() -> Environment:
    """The environment of templates/site/."""
    return environment(str(templates_dir() / "site"))


@dataclass(frozen=True)
class Links:
    """How pages link to each other: relative, so a copy works under any path."""

    static: bool = False
    base_url: str = "http://127.0.0.1:8080/"

    def page(self, root: str, path: str) -> str:
        """A relative link from a page at depth `root` to the folder page `path` ('' = top)."""
        suffix = "index.html" if self.static else ""
        return f"{root}{path}{suffix}" if path or self.static else (root or "./")

    def absolute(self, path: str) -> str:
        """`path` on the public address (feeds need absolute links)."""
        return self.base_url.rstrip("/") + "/" + path.lstrip("/")


def decision_path(slug: str, number: str) -> str:
    return f"c/{slug}/decisions/{number}/"


# The static copy is served by any web server, without jcbot's headers: its pages carry the
# policy themselves (frame-ancestors has no effect in a meta tag, so it is left out).
STATIC_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'"


def _common(links: Links, root: str, head: tuple[int, str] | None, **extra: Any) -> dict[str, Any]:
    return {"root": root, "link": lambda path: links.page(root, path), "head": head,
            "csp": STATIC_CSP if links.static else None, **extra}


def render_index(committees: list[tuple[Committee, int, Published | None]], head, links: Links) -> str:
    """The top page: every committee, how many decisions, the latest."""
    return site_env().get_template("index.html").render(_common(links, "", head, committees=committees))


def render_committee(c: Committee, decisions: list[Published], head, links: Links) -> str:
    """A committee's index of decisions, newest first."""
    return site_env().get_template("committee.html").render(
        _common(links, "../../", head, committee=c, decisions=decisions, decision_path=decision_path))


def render_decision(d: Published, head, links: Links) -> str:
    """The page of one decision."""
    return site_env().get_template("decision.html").render(_common(links, "../../../../", head, committee=d.committee, d=d))


def render_not_found(what: str, root: str, head, links: Links, heading: str = "Not found") -> str:
    """A plain 'not found' page (or another error's, under its own heading)."""
    return site_env().get_template("not_found.html").render(_common(links, root, head, what=what, heading=heading))


def render_feed(c: Committee, decisions: list[Published], links: Links, now: datetime) -> str:
    """The committee's Atom feed (newest first)."""
    host = urlsplit(links.base_url).hostname or "localhost"
    updated = max((d.adopted_at for d in decisions), default=c.created_at)
    return site_env().get_template("feed.atom").render(
        committee=c, decisions=decisions[:50], links=links, decision_path=decision_path, updated=updated,
        feed_id=f"tag:{host},{c.created_at:%Y-%m-%d}:jcbot/{c.slug}", now=now)


def committee_json(c: Committee, decisions: list[Published], head, links: Links, now: datetime) -> str:
    """The committee's JSON export: every decision with its audit hash, and the chain's head."""
    data = {
        "committee": {"slug": c.slug, "name": c.name, "host_country": c.host_country, "code": c.code,
                      "timezone": c.timezone},
        "generated_at": iso_utc(now),
        "audit_head": {"event": head[0], "hash": head[1]} if head else None,
        "decisions": [d.as_json() | {"url": links.absolute(decision_path(c.slug, d.number)),
                                     "documents": [doc | {"url": links.absolute(d.document_path(doc["name"]))}
                                                   for doc in d.documents]} for d in decisions],
    }
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def stylesheet() -> str:
    """The site's CSS (screen, phone and print)."""
    return (templates_dir() / "site" / "static" / "site.css").read_text(encoding="utf-8")


def render_refused(heading: str, what: str, root: str, links: Links, signin: str = "/signin") -> str:
    """The page of a download that is not served (403, 503): why, and how members get the document."""
    return site_env().get_template("forbidden.html").render(
        _common(links, root, None, heading=heading, what=what, signin=signin))
