"""`jcbot meeting record`: a meeting and the decisions it took by consensus."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from jcbot.cli.common import actor, context, fail, refusals
from jcbot.cli.proposal import parse_items
from jcbot.core.yamlsafe import YamlError, load_yaml
from jcbot.services.meetings import MeetingDecision, record_meeting

app = typer.Typer(help="Meetings of the JC.", no_args_is_help=True)


def _decisions(path: Path) -> list[MeetingDecision]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, YamlError) as exc:
        fail(f"{path}: {exc}")
    if not isinstance(data, list):
        fail(f"{path}: expected a list of decisions, each with title, text, items (KIND:TITLE[:REF]) and optionally proposal")
    out = []
    for i, d in enumerate(data):
        if not isinstance(d, dict) or not {"title", "text", "items"} <= set(d) or set(d) - {"title", "text", "items", "proposal"}:
            fail(f"{path}: decisions[{i}]: expected keys title, text, items and optionally proposal")
        out.append(MeetingDecision(d["title"], d["text"], parse_items(list(d["items"])), d.get("proposal")))
    return out


@app.command("record")
def record(
    slug: str, title: str = typer.Option(..., "--title", help="e.g. '3rd Joint Committee'."),
    held_on: str = typer.Option(..., "--date", help="YYYY-MM-DD"), place: str = typer.Option(..., "--place"),
    decisions: Path = typer.Option(None, "--decisions", help="YAML list of {title, text, items, proposal?}."),
    adopt: list[str] = typer.Option(None, "--adopt", help="A referred proposal the meeting adopted as distributed (repeatable)."),
) -> None:
    """Record a meeting and its decisions (they are published like electronic ones)."""
    try:
        day = date.fromisoformat(held_on)
    except ValueError:
        fail(f"--date {held_on!r}: expected YYYY-MM-DD")
    items = _decisions(decisions) if decisions else []
    ctx = context()
    if adopt:
        from jcbot.services.proposals import Item
        from jcbot.services.queries import show

        with refusals():
            for ref in adopt:
                view = show(ctx, ref)
                items.append(MeetingDecision(view.version.title, view.version.text,
                                             [Item(i["kind"], i["title"], i["reference"]) for i in view.items], ref))
    with refusals():
        meeting, recorded = record_meeting(ctx, slug, title, day, place, items, actor())
    typer.echo(f"{slug}: recorded {meeting.title} ({meeting.held_on}, {meeting.place}) with {len(recorded)} decision(s)")
    for d in recorded:
        typer.echo(f"  {d.number}  {d.title}")
