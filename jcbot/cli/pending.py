"""`jcbot pending` (what the co-chairs must watch), and a proposal view as JSON (`proposal show --json`).

A module of its own so that `jcbot pending` imports only the reads it makes: not the
document store, the drafting and distribution services or the channels.
"""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import typer

from jcbot.cli.common import context, refusals, table
from jcbot.services import queries, reach


def _iso(at: datetime | None, tz: ZoneInfo) -> str | None:
    return at.astimezone(tz).isoformat() if at else None


def view_json(view: queries.ProposalView, now: datetime) -> dict:
    """A proposal view as JSON (instants in the committee's time zone)."""
    tz = ZoneInfo(view.committee.timezone)
    v, verdict = view.version, view.verdict
    out = {
        "ref": view.proposal.ref, "committee": view.committee.slug, "version": v.version, "title": v.title,
        "status": view.status, "items": list(view.items), "distributed_at": _iso(v.distributed_at, tz),
        "deadline": _iso(v.deadline, tz), "days_left": round(view.days_left(now), 2) if v.deadline else None,
        "documents": [a.as_dict() for a in view.documents],
    }
    if verdict is not None:
        out |= {
            "basis": verdict.basis, "adopted_at": _iso(verdict.adopted_at, tz), "negatives": list(verdict.negatives),
            "awaiting": list(verdict.awaiting), "escalations": len(verdict.escalations),
            "seats": {s: {"holder": view.seat_holders.get(s), "position": p} for s, p in verdict.seat_positions.items()},
            "assertions": [{"member": a.member, "position": a.position, "opinion": a.opinion, "at": _iso(a.at, tz),
                            "channel": a.channel, "note": a.note, "documents": a.documents} for a in view.assertions],
            "trace": [s.text for s in verdict.trace],
        }
    d = view.decision
    if d is not None:
        # The decision's own basis and instant: a meeting's ("meeting", its day) rather than the referral's.
        out |= {"basis": d.basis, "adopted_at": _iso(d.adopted_at, tz), "decision": d.number}
    return out


def pending(slug: str = typer.Argument(None, help="One committee; default all."), as_json: bool = typer.Option(False, "--json")) -> None:
    """What the co-chairs must watch: open proposals (days left, awaited members, negatives) and the cases' duties."""
    from jcbot.services import case_duties

    ctx = context()
    with refusals():
        views = queries.pending(ctx, slug)
        duties = case_duties.pending(ctx, slug)
    now = ctx.clock.now()
    if as_json:
        typer.echo(json.dumps({"proposals": [view_json(v, now) for v in views],
                               "duties": [{"committee": c.slug, "case": d.case, "duty": d.kind, "text": d.text}
                                          for c, d in duties]}, indent=2, ensure_ascii=False))
        return
    # Members no notice reaches, co-chair seats first: shown whatever is pending.
    for committee, lost in reach.by_committee(ctx, slug).items():
        typer.echo(f"warning: {committee}: {reach.warning(lost)}", err=True)
    # Mail the relay accepted and a delivery report later said failed: that member heard nothing.
    for committee, gone in reach.bounced(ctx, slug).items():
        for b in gone:
            typer.echo(f"warning: {committee}: {b.text()}; that member did not get it: check their address "
                       f"(`jcbot outbox show {b.outbox_id}`)", err=True)
    if not views and not duties:
        typer.echo("nothing pending")
        return
    rows = []
    for v in views:
        verdict = v.verdict
        seats = " ".join(f"{s}:{(p or '-')[:3]}" for s, p in verdict.seat_positions.items())
        rows.append([v.proposal.ref, v.version.title[:40], v.version.status, f"{v.days_left(now):.1f}",
                     seats, ", ".join(verdict.awaiting) or None, ", ".join(verdict.negatives) or None])
    if rows:
        typer.echo(table(rows, ["proposal", "title", "status", "days left", "seats", "awaiting", "negatives"]))
    if duties:
        typer.echo(("\n" if rows else "") + "duties:")
        for c, d in duties:
            typer.echo(f"  {c.slug}: {d.text}")
