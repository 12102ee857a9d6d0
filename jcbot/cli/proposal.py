"""`jcbot proposal ...`, `jcbot assert`, `jcbot pending`, `jcbot evaluate`."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer

from jcbot.cli.common import actor, context, fail, refusals
from jcbot.cli.pending import view_json
from jcbot.cli.document import DOCUMENT_HELP, ITEM_DOCUMENT_HELP, describe, parse_item_documents, read_uploads
from jcbot.services import assertions, proposals, queries, reach, sweep
from jcbot.services.numbering import ITEM_KINDS
from jcbot.services.proposals import Item

app = typer.Typer(help="Proposals: draft, attach documents, distribute, withdraw, refer, revise, show.", no_args_is_help=True)


def parse_items(specs: list[str]) -> list[Item]:
    """Items given as KIND:TITLE or KIND:TITLE:REFERENCE."""
    items = []
    for spec in specs:
        parts = spec.split(":", 2)
        if len(parts) < 2 or parts[0] not in ITEM_KINDS:
            fail(f"--item {spec!r}: expected KIND:TITLE[:REFERENCE] with KIND one of {', '.join(ITEM_KINDS)}")
        items.append(Item(parts[0], parts[1], parts[2] if len(parts) == 3 else None))
    return items


def _text(text: str | None, text_file: Path | None) -> str | None:
    if text_file is not None:
        try:
            return text_file.read_text(encoding="utf-8")
        except OSError as exc:
            fail(f"{text_file}: {exc.strerror or exc}")
    return text


_ITEM_HELP = f"An item, KIND:TITLE[:REFERENCE], repeatable. KIND: {', '.join(ITEM_KINDS)}."


@app.command("draft")
def draft(slug: str, title: str = typer.Option(..., "--title"), text: str = typer.Option(None, "--text"),
          text_file: Path = typer.Option(None, "--text-file", help="Read the full text from a file."),
          item: list[str] = typer.Option(..., "--item", help=_ITEM_HELP),
          document: list[str] = typer.Option(None, "--document", help=DOCUMENT_HELP),
          item_document: list[str] = typer.Option(None, "--item-document", help=ITEM_DOCUMENT_HELP)) -> None:
    """Draft a proposal (several items may be bundled) with the documents it is about."""
    body = _text(text, text_file)
    if not body:
        fail("give the proposal's text with --text or --text-file")
    items = parse_items(item)
    uploads = read_uploads(document, parse_item_documents(item_document))
    with refusals():
        p = proposals.draft(context(), slug, title, body, items, actor(), uploads)
    typer.echo(f"drafted {p.ref}" + (f" with {len(uploads)} document(s)" if uploads else ""))


@app.command("attach")
def attach(ref: str, path: list[str] = typer.Argument(..., help="PATH[:public|:confidential] (default public)."),
           item: list[int] = typer.Option(None, "--item", help="The item number (1, 2...) that approves these files; repeatable.")) -> None:
    """Add documents to a proposal not yet distributed (after distribution: revise it)."""
    uploads = read_uploads(path, all_items=tuple(item or ()))
    with refusals():
        added = proposals.attach(context(), ref, uploads, actor())
    for a in added:
        typer.echo(f"attached {a.name} ({a.visibility}, sha256 {a.sha256})")
    if not added:
        typer.echo(f"{ref} already carries these documents")


@app.command("detach")
def detach(ref: str, name: str = typer.Argument(..., help="The document's name, as `proposal show` lists it.")) -> None:
    """Take a document off a proposal not yet distributed."""
    with refusals():
        gone = proposals.detach(context(), ref, name, actor())
    typer.echo(f"detached {gone.name} from {ref}")


@app.command("distribute")
def distribute(ref: str, by: str = typer.Option(None, "--by", help="The co-chair or alternate distributing; default: the secretariat on their behalf.")) -> None:
    """Distribute to all members: fixes the electorate and the deadline."""
    with refusals():
        v = proposals.distribute(context(), ref, actor(), by)
    tz = ZoneInfo(queries.show(context(), ref).committee.timezone)
    typer.echo(f"distributed {ref} version {v.version} to {len(v.electorate or [])} members; "
               f"deadline {v.deadline.astimezone(tz).isoformat()}")
    _warn_unreachable(ref, v.electorate)


def _warn_unreachable(ref: str, electorate: list[str] | None) -> None:
    """Say loudly (stderr) who of the electorate no notice reaches: counted, yet never told."""
    slug = queries.show(context(), ref).committee.slug
    lost = [u for u in reach.by_committee(context(), slug).get(slug, []) if u.handle in (electorate or [])]
    if lost:
        typer.echo(f"warning: {ref}: {reach.warning(lost)}", err=True)


@app.command("withdraw")
def withdraw(ref: str, by: str = typer.Option(None, "--by"), note: str = typer.Option(None, "--note")) -> None:
    """The co-chairs withdraw a proposal."""
    with refusals():
        proposals.withdraw(context(), ref, actor(), by, note)
    typer.echo(f"{ref} withdrawn")


@app.command("refer")
def refer(ref: str, by: str = typer.Option(None, "--by"), note: str = typer.Option(None, "--note", help="e.g. 'to the 4th meeting' or 'to a conference call'")) -> None:
    """The co-chairs refer a proposal to a meeting or a conference call."""
    with refusals():
        proposals.refer(context(), ref, actor(), by, note)
    typer.echo(f"{ref} referred")


@app.command("revise")
def revise(ref: str, title: str = typer.Option(None, "--title"), text: str = typer.Option(None, "--text"),
           text_file: Path = typer.Option(None, "--text-file"), item: list[str] = typer.Option(None, "--item", help=_ITEM_HELP),
           by: str = typer.Option(None, "--by"),
           no_distribute: bool = typer.Option(False, "--no-distribute", help="Keep the new version as a draft."),
           document: list[str] = typer.Option(None, "--document", help=DOCUMENT_HELP + " Replaces the documents; default: the previous version's."),
           item_document: list[str] = typer.Option(None, "--item-document", help=ITEM_DOCUMENT_HELP)) -> None:
    """A new version (the distributed one is superseded), redistributed with a new period."""
    items = parse_items(item) if item else None
    uploads = read_uploads(document, parse_item_documents(item_document)) or None
    with refusals():
        v = proposals.revise(context(), ref, actor(), title=title, text=_text(text, text_file),
                             items=items, by=by, redistribute=not no_distribute, uploads=uploads)
    typer.echo(f"{ref} version {v.version} {'distributed' if v.distributed_at else 'drafted'}")
    if v.distributed_at:
        _warn_unreachable(ref, v.electorate)


@app.command("show")
def show(ref: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """A proposal: items, status, deadline, positions, and why."""
    ctx = context()
    with refusals():
        view = queries.show(ctx, ref)
    data = view_json(view, ctx.clock.now())
    if as_json:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{data['ref']} v{data['version']}  {data['title']}\n  committee   {data['committee']}\n  status      {data['status']}"
               + (f" ({data['basis']}) at {data['adopted_at']}" if data.get("adopted_at") else ""))
    for i in data["items"]:
        typer.echo(f"  item        {i['kind']}: {i['title']}{' [' + i['reference'] + ']' if i['reference'] else ''}")
    for a in view.documents:
        typer.echo(f"  document    {describe(a)}")
    if data["deadline"]:
        typer.echo(f"  deadline    {data['deadline']}  ({data['days_left']:+.1f} days)")
        typer.echo(f"  negatives   {', '.join(data['negatives']) or '-'}\n  awaiting    {', '.join(data['awaiting']) or '-'}")
        for seat, s in data["seats"].items():
            typer.echo(f"  {seat:<5} seat  {s['holder'] or 'VACANT'}: {s['position'] or 'no position yet'}")
        for a in data["assertions"]:
            typer.echo(f"  {a['at']}  {a['member']} {a['position']} via {a['channel']}"
                       + (f": {a['opinion']}" if a["opinion"] else ""))
        typer.echo("why:\n" + "\n".join(f"  {t}" for t in data["trace"]))


def _letter_key(member: str, position: str, at: str | None, note: str) -> str:
    # The same letter entered twice (same member, answer, date and note) is recorded once.
    digest = hashlib.sha256(f"{member}|{position}|{at or ''}|{' '.join(note.split())}".encode()).hexdigest()[:24]
    return f"letter:{member}:{digest}"


def assert_(ref: str, member: str, position: str = typer.Argument(..., help="affirmative or negative."),
            opinion: str = typer.Option(None, "--opinion", help="Required for a negative."),
            note: str = typer.Option(..., "--note", help="The letter: its date, how it arrived."),
            at: str = typer.Option(None, "--at", help="When the member asserted (ISO 8601 with offset); default now."),
            evidence: str = typer.Option(None, "--evidence", help="A reference that identifies the letter (recorded once).")) -> None:
    """Record an assertion a member made by letter (the secretariat records; it never asserts)."""
    when = None
    if at:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            fail(f"--at {at!r}: expected an ISO 8601 instant such as 2026-03-04T09:00:00+09:00")
        if when.tzinfo is None:
            fail(f"--at {at!r}: add the UTC offset (e.g. +09:00)")
    ctx = context()
    with refusals():
        r = assertions.record_assertion(ctx, ref, member, position, channel="letter", actor=actor(), opinion=opinion,
                                        at=when, note=note, evidence_key=evidence or _letter_key(member, position, at, note))
    if r.duplicate:
        typer.echo(f"{ref}: this letter was already recorded; status {r.status}")
    else:
        typer.echo(f"{ref}: recorded {member} {position} (letter); status {r.status}")


def evaluate() -> None:
    """Evaluate every open proposal now and record adoptions at the instants the rules give."""
    with refusals():
        result = sweep.sweep(context(), actor(), full=True)
    typer.echo(f"examined {result.examined} open proposal(s)")
    for ref, status in result.changed:
        typer.echo(f"  {ref}: {status}")
