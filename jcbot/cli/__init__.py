"""The `jcbot` command: thin; parses, calls core or services, prints.

Each command group lives in its own module of this package and is mounted here.
"""
from __future__ import annotations

import typer

from jcbot import __version__

app = typer.Typer(
    name="jcbot",
    help="Runs the electronic decisions of JCM Joint Committees.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jcbot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Runs the electronic decisions of JCM Joint Committees."""


def _mount() -> None:
    # Imported here so `jcbot --help` stays fast and a group's import error names its module.
    from jcbot.cli import rules, simulate

    app.add_typer(rules.app, name="rules")
    app.command("simulate")(simulate.simulate)
    for optional in ("mail",):
        try:
            module = __import__(f"jcbot.cli.{optional}", fromlist=["app"])
        except ModuleNotFoundError as exc:
            if exc.name != f"jcbot.cli.{optional}":
                raise
            continue
        app.add_typer(module.app, name=optional)


_mount()


def main() -> None:
    """Console-script entry point."""
    app()
