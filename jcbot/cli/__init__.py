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
    storage: str = typer.Option(None, "--storage", metavar="DIR",
                                help="The storage folder (as JCBOT_STORAGE_DIR); default: the nearest storage/ "
                                     "holding jcbot.sqlite at or above the current folder."),
    database: str = typer.Option(None, "--database", metavar="URL", help="The database URL (as JCBOT_DATABASE_URL)."),
) -> None:
    """Runs the electronic decisions of JCM Joint Committees."""
    from jcbot.cli.common import set_overrides

    set_overrides(storage, database)


def _mount() -> None:
    # Imported here so `jcbot --help` stays fast and a group's import error names its module.
    from jcbot.cli import audit, committee, cycle, document, meeting, proposal, rules, simulate

    app.add_typer(rules.app, name="rules")
    app.command("simulate")(simulate.simulate)
    app.add_typer(cycle.app, name="cycle")
    app.add_typer(committee.committee_app, name="committee")
    app.add_typer(committee.member_app, name="member")
    app.add_typer(committee.cochair_app, name="cochair")
    app.add_typer(committee.alternate_app, name="alternate")
    app.add_typer(committee.secretariat_app, name="secretariat")
    app.add_typer(proposal.app, name="proposal")
    app.command("assert")(proposal.assert_)
    app.command("pending")(proposal.pending)
    app.command("evaluate")(proposal.evaluate)
    app.add_typer(meeting.app, name="meeting")
    app.add_typer(audit.app, name="audit")
    app.add_typer(document.app, name="document")
    # Groups of the channels and the long-running job: a module exposes `register(app)`
    # to add commands, or `app` to be mounted as a group of its own name.
    for optional in ("mail", "serve", "publish", "slack", "remind", "outbox", "dev", "case"):
        try:
            module = __import__(f"jcbot.cli.{optional}", fromlist=["app"])
        except ModuleNotFoundError as exc:
            if exc.name != f"jcbot.cli.{optional}":
                raise
            continue
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=optional)


_mount()


def main() -> None:
    """Console-script entry point."""
    app()
