"""Check a published copy of the record against the database's audit chain.

A copy passes when the chain itself verifies, the head it carries is an event of the
chain, every decision it shows (page and JSON) carries the hash of the event that
recorded its adoption and agrees with that event and with the stored decision, and no
decision adopted before that head is missing from it. Every published document (the
files under decisions/{number}/documents/) must be one the decision publishes, and hash
to the SHA-256 that the decision lists and that its adoption event recorded.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from jcbot.publish import record
from jcbot.publish.pages import parse_decision_page, parse_head
from jcbot.store import audit
from jcbot.store.audit import AuditEvent


@dataclass
class Report:
    """What the check found: how much it read and every mismatch, first one first."""

    decisions: int = 0
    files: int = 0
    head: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.files > 0


def _norm(text: Any) -> str:
    return " ".join(str(text or "").split())


def _docs(docs: list[dict] | None) -> list[tuple]:
    return [(d.get("name"), d.get("sha256"), d.get("size")) for d in docs or [] if isinstance(d, dict)]


def _items(items: list[dict]) -> list[tuple]:
    return [(i.get("kind"), i.get("reference") or None, _norm(i.get("title"))) for i in items]


class _Checker:
    def __init__(self, session: Session, out: Path) -> None:
        self.session, self.out, self.report = session, out, Report()
        rows = session.exec(select(AuditEvent.hash, AuditEvent.id)).all()
        self.chain = {h: i for h, i in rows}

    def problem(self, where: Path | str, what: str) -> None:
        rel = where.relative_to(self.out) if isinstance(where, Path) else where
        self.report.problems.append(f"{rel}: {what}")

    def head(self, where: Path, value: str | None) -> int | None:
        if value is None:
            self.problem(where, "carries no audit chain head")
            return None
        if value not in self.chain:
            self.problem(where, f"audit chain head {value} is not an event of the chain")
            return None
        self.report.head = self.report.head or value
        return self.chain[value]

    def decision(self, where: Path, c, shown: dict, exact_text: bool) -> None:
        """Compare one decision as shown with the stored decision and its adoption event."""
        number = shown.get("number")
        self.report.decisions += 1
        stored = record.decision(self.session, c, number) if number else None
        if stored is None:
            self.problem(where, f"decision {number!r} is not a decision of {c.slug} in the database")
            return
        want = stored.as_json()
        checks = [("title", _norm(shown.get("title")), _norm(want["title"])),
                  ("basis", shown.get("basis"), want["basis"]),
                  ("adopted_at", shown.get("adopted_at"), want["adopted_at"]),
                  ("items", _items(shown.get("items") or []), _items(want["items"])),
                  ("text", shown.get("text") if exact_text else _norm(shown.get("text")),
                   want["text"] if exact_text else _norm(want["text"])),
                  ("audit_hash", shown.get("audit_hash"), want["audit_hash"]),
                  ("documents", _docs(shown.get("documents")), _docs(want["documents"]))]
        for name, got, expected in checks:
            if got != expected:
                verb = "differ" if name in ("items", "documents") else "differs"
                self.problem(where, f"{number}: {name} {verb} from the record: published {got!r}, recorded {expected!r}")
                return
        self.event(where, number, shown, exact_text)

    def files(self, folder: Path, number: str, shown: list[dict]) -> None:
        """The published documents of one decision: each listed file there with its hash, nothing else."""
        listed = {d.get("name"): d.get("sha256") for d in shown if isinstance(d, dict)}
        for name, sha in listed.items():
            path = folder / str(name)
            self.report.files += 1
            try:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError:
                self.problem(path, f"{number}: published document missing")
                continue
            if digest != sha:
                self.problem(path, f"{number}: published document altered: its SHA-256 is {digest}, "
                                   f"the decision publishes {sha}")
        if folder.is_dir():
            for path in sorted(p for p in folder.iterdir() if p.name not in listed):
                self.problem(path, f"{number}: a file the decision does not publish")

    def event(self, where: Path, number: str, shown: dict, exact_text: bool) -> None:
        h = shown.get("audit_hash")
        ev = self.session.exec(select(AuditEvent).where(AuditEvent.hash == h)).first() if h else None
        if ev is None:
            self.problem(where, f"{number}: audit hash {h!r} is not an event of the chain")
            return
        if record.decision_number_of(ev) != number:
            self.problem(where, f"{number}: audit hash belongs to event {ev.id} ({ev.action} {ev.subject}), "
                                "not to this decision's adoption")
            return
        data = json.loads(ev.data)
        # What the event itself recorded: basis and instant (electronic), title and items
        # (meetings, and electronic adoptions once their event carries them), the text's digest.
        text = shown.get("text")
        pairs = {
            "basis": (shown.get("basis"), data.get("basis")),
            "adopted_at": (shown.get("adopted_at"), data.get("adopted_at")),
            "title": (_norm(shown.get("title")), _norm(data["title"]) if "title" in data else None),
            "items": (_items(shown.get("items") or []), _items(data["items"]) if "items" in data else None),
            "text": (hashlib.sha256(text.encode()).hexdigest() if exact_text and text is not None else None,
                     data.get("text_sha256") if exact_text else None),
            "documents": (sorted(d[1] for d in _docs(shown.get("documents"))),
                          sorted(data["documents"]) if "documents" in data else None),
        }
        for key, (got, recorded) in pairs.items():
            if recorded is not None and got != recorded:
                self.problem(where, f"{number}: {key} differs from audit event {ev.id}: published {got!r}, "
                                    f"recorded {recorded!r}")
                return


def verify_published(session: Session, out: Path) -> Report:
    """Check the copy in `out` against the database; `Report.problems[0]` is the first mismatch."""
    chk = _Checker(session, out)
    result = audit.verify(session)
    if not result.ok:
        event_id, reason = result.first_broken  # type: ignore[misc]
        chk.problem("database", f"the audit chain itself is broken at event {event_id}: {reason}")
    for path in sorted(out.glob("c/*/decisions.json")):
        chk.report.files += 1
        slug = path.parent.name
        c = record.committee(session, slug)
        if c is None:
            chk.problem(path, f"committee {slug!r} is not in the database")
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            chk.problem(path, f"unreadable JSON ({exc})")
            continue
        head_id = chk.head(path, (data.get("audit_head") or {}).get("hash"))
        shown = [d for d in data.get("decisions", []) if isinstance(d, dict)]
        for d in shown:
            chk.decision(path, c, d, exact_text=True)
            chk.files(path.parent / "decisions" / str(d.get("number")) / "documents", str(d.get("number")),
                      d.get("documents") or [])
        _missing(chk, path, c, {d.get("number") for d in shown}, head_id)
        on_pages = set()
        for page in sorted(path.parent.glob("decisions/*/index.html")):
            chk.report.files += 1
            parsed = parse_decision_page(page.read_text(encoding="utf-8"))
            chk.head(page, parsed.get("head_hash"))
            if parsed.get("number") != page.parent.name:
                chk.problem(page, f"shows decision {parsed.get('number')!r} in the folder of {page.parent.name}")
                continue
            on_pages.add(page.parent.name)
            chk.decision(page, c, parsed, exact_text=False)
        _missing(chk, path.parent / "decisions", c, on_pages, head_id)
    for page in [out / "index.html", *sorted(out.glob("c/*/index.html"))]:
        if page.exists():
            chk.report.files += 1
            chk.head(page, parse_head(page.read_text(encoding="utf-8")))
    if chk.report.files == 0:
        chk.problem(".", "no published record here (expected index.html and c/<committee>/decisions.json)")
    return chk.report


def _missing(chk: _Checker, where: Path, c, shown: set, head_id: int | None) -> None:
    # A copy made at head H must hold every decision whose adoption was recorded at or before H.
    if head_id is None:
        return
    for number, ev in record.adoption_events(chk.session, c.id).items():
        if ev.id <= head_id and number not in shown:
            chk.problem(where, f"decision {number} (adopted at event {ev.id}, before the head) is missing")
            return

