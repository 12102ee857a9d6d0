"""`jcbot audit verify|export`: the tamper-evident record (and the stored documents it names)."""
from __future__ import annotations

import sys
from pathlib import Path

import typer

from jcbot.cli.common import context, fail
from jcbot.services import documents
from jcbot.store import audit

app = typer.Typer(help="The audit record: verify the hash chain and the stored documents, export it.", no_args_is_help=True)


@app.command("verify")
def verify(published: Path = typer.Option(None, "--published", help="Also check a copy written by `jcbot publish` against the chain.")) -> None:
    """Recompute every hash and re-hash every stored document; name what is broken (exit 1) or print the head; --published DIR checks a copy too."""
    with context().read() as tx:
        result = audit.verify(tx.session)
    checked, problems = documents.verify(context())
    if not result.ok:
        event_id, reason = result.first_broken  # type: ignore[misc]
        typer.echo(f"audit chain BROKEN at event {event_id}: {reason}", err=True)
    for p in problems:
        typer.echo(f"document {p.name}{f' ({p.sha256})' if p.sha256 else ''} BROKEN: {p.reason}", err=True)
    if not result.ok or problems:
        raise typer.Exit(1)
    typer.echo(f"audit chain ok: {result.count} events, head {result.head_hash}")
    if checked:
        typer.echo(f"documents ok: {checked} re-hashed, each as the audit chain recorded it")
    if published is not None:
        from jcbot.cli.publish import check_published

        check_published(published)


@app.command("export")
def export(fmt: str = typer.Option("json", "--format", help="csv or json"),
           out: Path = typer.Option(None, "--out", help="File to write; default stdout.")) -> None:
    """Write every audit event as CSV or JSON."""
    if fmt not in ("csv", "json"):
        fail(f"--format {fmt!r}: expected csv or json")
    with context().read() as tx:
        if out is None:
            count = audit.export(tx.session, fmt, sys.stdout)  # type: ignore[arg-type]
        else:
            with out.open("w", encoding="utf-8", newline="") as fh:
                count = audit.export(tx.session, fmt, fh)  # type: ignore[arg-type]
    if out is not None:
        typer.echo(f"wrote {count} events to {out}")
