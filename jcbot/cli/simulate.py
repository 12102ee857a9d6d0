"""`jcbot simulate TIMELINE [--rules FILE] [--json]`: replay a timeline through the core."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from jcbot.cli.common import load_rules, replay_file
from jcbot.core.timeline import Replay, TimelineError, replay
from jcbot.core.trace import describe_at


def simulate(
    timeline: Path = typer.Argument(..., help="The timeline, YAML or JSON (format: SIMULATE.md)."),
    rules: str = typer.Option("default", "--rules", help="Rules file path or shipped name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    trace: bool = typer.Option(False, "--trace", help="With --json, include the trace of why."),
) -> None:
    """Replay a timeline through the procedure core and print the verdict (no database, nothing sent)."""
    loaded, _ = load_rules(rules)
    result = replay_file(timeline, "timeline", lambda data: replay(data, loaded), (TimelineError,))
    if as_json:
        typer.echo(json.dumps(verdict_json(result, trace), indent=2))
    else:
        typer.echo(verdict_text(result))


def _iso(at):
    return at.isoformat() if at is not None else None


def verdict_json(result: Replay, with_trace: bool = False) -> dict:
    """The documented JSON object of SIMULATE.md."""
    v = result.verdict
    out = {
        "status": v.status,
        "basis": v.basis,
        "adopted_at": _iso(v.adopted_at),
        "deadline": _iso(v.deadline),
        "negatives": list(v.negatives),
        "awaiting": list(v.awaiting),
        "escalations": len(v.escalations),
    }
    if with_trace:
        out["trace"] = [{"at": _iso(s.at), "kind": s.kind, "text": s.text} for s in v.trace]
    return out


def verdict_text(result: Replay) -> str:
    """The verdict for people, instants in the committee's time zone."""
    v, rules = result.verdict, result.roster.rules
    tz = rules.tz
    head = v.status
    if v.adopted_at is not None:
        head += f" ({v.basis}) at {describe_at(v.adopted_at, tz)}"
    elif v.lapsed_at is not None:
        head += f" at {describe_at(v.lapsed_at, tz)}"
    ed = rules.electronic_decision
    lines = [
        f"status       {head}",
        f"deadline     {describe_at(v.deadline, tz)}  ({ed.objection_period_days} calendar days, {rules.timezone}, period_ends {ed.period_ends})",
        f"negatives    {', '.join(v.negatives) or '-'}",
        f"awaiting     {', '.join(v.awaiting) or '-'}",
        f"escalations  {len(v.escalations)}",
        f"evaluated at {describe_at(result.evaluated_at, tz)}",
        "",
        "why:",
    ]
    lines += [f"  {describe_at(s.at, tz)}  {s.text}" for s in v.trace]
    return "\n".join(lines)
