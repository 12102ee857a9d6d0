"""`jcbot cycle simulate CASE [--rules FILE] [--json]`: replay a case through the cycle core."""
from __future__ import annotations

import json
from pathlib import Path

import typer

from jcbot.cli.common import load_rules, replay_file
from jcbot.core.cycle import CaseView, summary
from jcbot.core.cycle.casefile import CaseFileError, simulate as simulate_case
from jcbot.core.rules import Rules
from jcbot.core.trace import describe_at

app = typer.Typer(help="The project cycle: methodologies, projects, issuance, TPEs.", no_args_is_help=True)


@app.command("simulate")
def simulate(
    case: Path = typer.Argument(..., help="The case file, YAML or JSON (format: SIMULATE.md)."),
    rules: str = typer.Option("default", "--rules", help="Rules file path or shipped name."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Replay a case's events through the cycle core and print where it stands (no database, nothing sent)."""
    loaded, _ = load_rules(rules)
    result = replay_file(case, "case file", lambda data: simulate_case(data, loaded), (CaseFileError,))
    if as_json:
        typer.echo(json.dumps(summary(result.view), indent=2))
    else:
        typer.echo(view_text(result.view, loaded))


def view_text(view: CaseView, rules: Rules) -> str:
    """The case for people, instants in the committee's time zone."""
    tz = rules.tz
    earlier = [n for n in view.numbers if n != view.number]
    lines = [
        f"state         {view.state} ({view.kind}"
        + (f"; project {view.project_state}" if view.project_state else "") + ")",
        f"number        {view.number or '-'}" + (f" (earlier: {', '.join(earlier)})" if earlier else ""),
        "windows" + ("" if view.windows else "       -"),
    ]
    width = max((len(name) for name in view.windows), default=0)
    lines += [f"  {name:<{width}}  {describe_at(w.start, tz)} to {describe_at(w.end, tz)}"
              f"  ({w.days} calendar days, {rules.timezone})" for name, w in view.windows.items()]
    lines += [
        f"inputs        {len(view.inputs_counted)} counted, {len(view.inputs_refused)} refused",
        f"duties        {', '.join(view.duties) or '-'}",
        f"proposal      {view.proposal or '-'}",
        f"evaluated at  {describe_at(view.evaluated_at, tz)}",
        "",
        "why:",
    ]
    lines += [f"  {describe_at(s.at, tz)}  {s.text}" for s in view.trace]
    return "\n".join(lines)
