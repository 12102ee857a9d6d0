"""`jcbot rules check FILE`: validate a rules file and print its effective values."""
from __future__ import annotations

import json

import typer

from jcbot.cli.common import configuration, load_rules
from jcbot.core.rules import effective_values
from jcbot.resources import rules_dir

app = typer.Typer(help="Rules files: check one, list the shipped ones.", no_args_is_help=True)


@app.command("check")
def check(
    file: str = typer.Argument(..., help="A rules file path, or the name of a shipped one (default, japan-mongolia)."),
    as_json: bool = typer.Option(False, "--json", help="Print the effective values as JSON."),
) -> None:
    """Validate a rules file and print every key with the value in force."""
    rules, path = load_rules(file)
    values = effective_values(rules)
    if as_json:
        typer.echo(json.dumps({"file": str(path), "valid": True, "values": values}, indent=2))
        return
    typer.echo(f"{path}: valid")
    width = max(len(k) for k in values)
    for key, value in values.items():
        shown = json.dumps(value) if not isinstance(value, str) else value
        typer.echo(f"  {key:<{width}}  {shown}")


@app.command("list")
def list_rules() -> None:
    """List the rules files in the rules folder (JCBOT_RULES_DIR or the shipped one)."""
    for path in sorted(rules_dir(configuration()).glob("*.yaml")):
        typer.echo(path.stem)
