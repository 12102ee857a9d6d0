"""The `jcbot` command: thin; parses, calls core or services, prints.

Each command group lives in its own module of this package. Nothing is mounted at import:
the root group knows every command from the static table `COMMANDS` (name, help line,
module, attribute) and imports a command's module only when that command is run (or its
own help is asked for), so `jcbot --help` imports typer alone and `jcbot simulate` never
imports the database layer. To add a command or group, add its row to `COMMANDS`; a unit
test checks each row's help line against the command it loads.

Usage errors (a missing option, a bad value, an unknown command) are one line on stderr,
`error: ...`, exit 2, as every refusal of the CLI is.
"""
from __future__ import annotations

import importlib
from difflib import get_close_matches
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as click
except ImportError:  # pragma: no cover - older typer, on click itself
    from click import exceptions as click  # type: ignore[no-redef]

from jcbot import __version__


class Entry(NamedTuple):
    """A command of the root group: its help line and where it is defined."""

    name: str
    help: str
    module: str  # under jcbot.cli
    attr: str  # a typer.Typer (mounted as a group) or a function (a command)


COMMANDS: tuple[Entry, ...] = (
    Entry("rules", "Rules files: check one, list the shipped ones.", "rules", "app"),
    Entry("simulate", "Replay a timeline through the procedure core and print the verdict (no database, "
                      "nothing sent).", "simulate", "simulate"),
    Entry("cycle", "The project cycle: methodologies, projects, issuance, TPEs.", "cycle", "app"),
    Entry("committee", "Joint Committees: create, list, show.", "committee", "committee_app"),
    Entry("member", "Members: add, remove, update, list.", "committee", "member_app"),
    Entry("cochair", "Co-chairs: record an election.", "committee", "cochair_app"),
    Entry("alternate", "Alternates of the co-chairs: set, revoke.", "committee", "alternate_app"),
    Entry("secretariat", "The secretariat: who prepares proposals and sees the dashboard.", "committee",
          "secretariat_app"),
    Entry("proposal", "Proposals: draft, attach documents, distribute, withdraw, refer, revise, show.", "proposal",
          "app"),
    Entry("assert", "Record an assertion a member made by letter (the secretariat records; it never asserts).",
          "proposal", "assert_"),
    Entry("pending", "What the co-chairs must watch: open proposals (days left, awaited members, negatives) "
                     "and the cases' duties.", "pending", "pending"),
    Entry("evaluate", "Evaluate every open proposal now and record adoptions at the instants the rules give.",
          "proposal", "evaluate"),
    Entry("meeting", "Meetings of the JC.", "meeting", "app"),
    Entry("audit", "The audit record: verify the hash chain and the stored documents, export it.", "audit", "app"),
    Entry("document", "The document store: list what is stored, get a file back (verified).", "document", "app"),
    Entry("expert", "Experts appointed to a proposal: they read its documents and comment; they never assert.",
          "expert", "app"),
    Entry("mail", "Email intake.", "mail", "app"),
    Entry("serve", "Run the HTTP app, mail intake, the outbox dispatcher and the scheduler until SIGTERM/SIGINT.",
          "serve", "serve"),
    Entry("publish", "Write the public record (pages, Atom feeds, JSON) as a static site.", "publish", "publish"),
    Entry("verify-published", "Check a published copy: hashes in the chain, decisions as recorded, none missing.",
          "publish", "verify_published"),
    Entry("apikey", "API keys of the integrations calling /api/v1.", "publish", "apikey_app"),
    Entry("slack", "Slack: link members to Slack users, check identities, run Socket Mode.", "slack", "app"),
    Entry("outbox", "Delivery problems: messages that failed for good or are being retried.", "outbox", "app"),
    Entry("dev", "Development helpers: act as a member on this machine.", "dev", "app"),
    Entry("case", "Cases of the project cycle: methodologies, projects, issuances, TPEs.", "case", "case_app"),
    Entry("registry", "Governments' registries: where issuance notifications go.", "case", "registry_app"),
)
_BY_NAME = {entry.name: entry for entry in COMMANDS}


def load(entry: Entry) -> Any:
    """The click command of one row, built by typer exactly as `add_typer`/`command` would mount it."""
    obj = getattr(importlib.import_module(f"jcbot.cli.{entry.module}"), entry.attr)
    holder = typer.Typer()
    holder.callback()(lambda: None)  # a callback keeps the holder a group even with one command
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=entry.name)
    else:
        holder.command(entry.name)(obj)
    command = typer.main.get_command(holder).commands[entry.name]  # type: ignore[attr-defined]
    _plain(command)
    return command


def _plain(command: Any) -> None:
    # Plain click help (no rich boxes) throughout, as the root's: the same look, rich never imported.
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain(sub)


class UsageLine(click.ClickException):
    """A usage error shown as one line, `error: ...`, exit 2 (typer/click print a usage block or a box)."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        typer.echo(f"error: {self.message}", err=True)


def usage_line(exc: click.UsageError) -> str:
    """What was wrong and what was expected, in one line, after the command it concerns."""
    where = exc.ctx.command_path if exc.ctx is not None else "jcbot"
    message = " ".join(part.strip() for part in exc.format_message().splitlines() if part.strip())
    param = getattr(exc, "param", None)
    if isinstance(exc, click.MissingParameter) and getattr(param, "help", None):
        message = f"{message.rstrip('.')}: {param.help.rstrip('.')}."  # type: ignore[union-attr]
    return f"{where}: {message} (see '{where} --help')"


class RootGroup(TyperGroup):
    """The root `jcbot` group: commands from `COMMANDS`, imported on first use; usage errors in one line."""

    _help_only = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [entry.name for entry in COMMANDS] + [n for n in self.commands if n not in _BY_NAME]

    def get_command(self, ctx: Any, cmd_name: str) -> Any | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = _BY_NAME.get(cmd_name)
        if entry is None:
            return None
        if self._help_only:  # listing the commands: the help line, no import
            return TyperCommand(entry.name, help=entry.help, rich_markup_mode=None)
        self.commands[cmd_name] = load(entry)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._help_only = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._help_only = False

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any | None, list[str]]:
        try:
            return self._click_resolve_command(ctx, args)
        except click.UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if matches:
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {', '.join(repr(m) for m in matches)}?"
            raise

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise UsageLine(usage_line(exc)) from exc

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise UsageLine(usage_line(exc)) from exc


app = typer.Typer(
    name="jcbot",
    cls=RootGroup,
    help="Runs the electronic decisions of JCM Joint Committees.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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


def main() -> None:
    """Console-script entry point."""
    app()
