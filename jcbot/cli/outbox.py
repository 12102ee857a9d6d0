"""`jcbot outbox list|show|retry`: delivery problems (failed for good, bounced, or retrying) from the command line.

The same list the dashboard shows (store.outbox.problems); `retry` sends a failed message
again once its cause is fixed (a corrected address, a Slack scope granted).
"""
from __future__ import annotations

import json

import typer
from sqlmodel import select

from jcbot.cli.common import actor, context, fail, table
from jcbot.store import outbox
from jcbot.store.models import Committee

app = typer.Typer(help="Delivery problems: messages that failed for good or are being retried.", no_args_is_help=True)


def _state(m: outbox.OutboxMessage) -> str:
    return m.status if m.status in ("failed", "bounced") else f"retrying ({m.status})"


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json")) -> None:
    """Every message that failed for good, bounced after sending, or is being retried, with its last error."""
    with context().read("cli:outbox") as tx:
        rows = outbox.problems(tx.session)
        slugs = {c.id: c.slug for c in tx.session.exec(select(Committee))}
    if as_json:
        typer.echo(json.dumps([{"id": m.id, "committee": slugs.get(m.committee_id), "channel": m.channel,
                                "kind": m.kind, "recipient": m.recipient, "status": m.status, "attempts": m.attempts,
                                "last_error": m.last_error} for m in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no delivery problems")
        return
    typer.echo(table([[m.id, slugs.get(m.committee_id) or "-", f"{m.kind} ({m.channel})", m.recipient, _state(m),
                       m.attempts, (m.last_error or "-")[:80]] for m in rows],
                     ["id", "committee", "message", "to", "state", "attempts", "error"]))


@app.command("show")
def show(message_id: int) -> None:
    """One outbox message: where it goes, its state, attempts, last error."""
    with context().read("cli:outbox") as tx:
        m = tx.session.get(outbox.OutboxMessage, message_id)
        if m is None:
            fail(f"there is no outbox message {message_id}; see `jcbot outbox list`")
        c = tx.session.get(Committee, m.committee_id) if m.committee_id else None
        lines = [("id", m.id), ("committee", c.slug if c else "-"), ("channel", m.channel), ("kind", m.kind),
                 ("to", m.recipient), ("status", m.status), ("attempts", m.attempts), ("created", m.created_at.isoformat()),
                 ("next attempt", m.next_attempt_at.isoformat() if m.status != "sent" else "-"),
                 ("sent", m.sent_at.isoformat() if m.sent_at else "-"), ("last error", m.last_error or "-")]
    for key, value in lines:
        typer.echo(f"{key + ':':14} {value}")


@app.command("retry")
def retry(message_id: int) -> None:
    """Send a failed or bounced message again now (after fixing what made it fail)."""
    with context().tx(actor()) as tx:
        try:
            outbox.requeue(tx.session, message_id, now=tx.now)
        except ValueError as refusal:
            fail(f"{refusal}; see `jcbot outbox list`")
        m = tx.session.get(outbox.OutboxMessage, message_id)
        tx.audit("outbox.requeued", f"outbox:{message_id}", {"kind": m.kind, "channel": m.channel,
                                                             "recipient": m.recipient}, m.committee_id)
    typer.echo(f"outbox message {message_id} ({m.kind} to {m.recipient}) will be sent again now")
