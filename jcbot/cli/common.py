"""Small helpers shared by the CLI groups: one-line errors, loading rules files."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from jcbot.core.rules import Rules

# Imports of the core, the services and the database are inside the functions: every
# command imports this module, and `jcbot --help` or `simulate` must not pay for them.


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit non-zero."""
    # One line whatever the message holds (a parser's multi-line error, a value with a newline).
    typer.echo("error: " + " ".join(part.strip() for part in str(message).splitlines() if part.strip()), err=True)
    raise typer.Exit(code)


_T = TypeVar("_T")


def replay_file(path: Path, what: str, replay: Callable[[Any], _T], errors: tuple[type[Exception], ...]) -> _T:
    """Read a YAML or JSON input file (JSON is YAML too) and hand it to a pure replay.

    Exit 2 with one line naming the file if it cannot be read, is not valid YAML, or the
    replay raises one of `errors` (the input's own mistakes).
    """
    from jcbot.core.yamlsafe import YamlError, load_yaml

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot read the {what} ({exc.strerror or exc})")
    except UnicodeDecodeError as exc:
        fail(f"{path}: the {what} is not UTF-8 text ({exc.reason} at byte {exc.start})")
    try:
        return replay(load_yaml(text))
    except (YamlError, *errors) as exc:
        fail(f"{path}: {exc}")


def load_rules(name_or_path: str) -> tuple[Rules, Path]:
    """Load a rules file by path or shipped name; exit 2 with one line if it is unusable."""
    from jcbot.core.errors import RulesError
    from jcbot.core.rules import rules_from_text
    from jcbot.resources import resolve_rules

    path = resolve_rules(name_or_path, configuration())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{name_or_path}: cannot read the rules file ({exc.strerror or exc})")
    try:
        return rules_from_text(text, str(path)), path
    except RulesError as exc:
        fail(str(exc))


def actor() -> str:
    """Who is at the keyboard, for the audit record."""
    import getpass

    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database in some containers
        user = "unknown"
    return f"cli:{user}"


@contextmanager
def refusals() -> Iterator[None]:
    """Turn a refusal of the rules, a service or the settings into one line and exit 2."""
    from jcbot.core.errors import ProcedureError, RulesError
    from jcbot.services.context import ServiceError
    from jcbot.settings import SettingsError

    try:
        yield
    except (ProcedureError, ServiceError, RulesError) as exc:
        fail(str(exc))
    except SettingsError as exc:
        fail("; ".join(exc.problems))


_CTX = None
# --storage / --database of this invocation (the root callback sets them): before the environment.
_OVERRIDES: dict[str, str] = {}


def set_overrides(storage: str | None, database: str | None) -> None:
    """The global options' settings, applied over the environment and .env."""
    _OVERRIDES.clear()
    if storage:
        _OVERRIDES["JCBOT_STORAGE_DIR"] = storage
    if database:
        _OVERRIDES["JCBOT_DATABASE_URL"] = database


def configuration():
    """This invocation's settings as read (--storage/--database, environment, .env), one line if invalid.

    The rules and templates folders they name are the ones used from now on in this process.
    """
    from jcbot import resources
    from jcbot.settings import SettingsError, load_settings

    try:  # not through `refusals`: it imports the services, which simulate must not pay for
        read = load_settings(overrides=_OVERRIDES)
    except SettingsError as exc:
        fail("; ".join(exc.problems))
    resources.use(read)
    return read


def settings(create: bool = False):
    """This invocation's settings, the storage found as documented (README, "Configuration").

    `create`: the command may make the database (serve, committee create) and says where;
    any other exits 2 with one line when there is none, rather than use an empty one.
    """
    from pathlib import Path

    from jcbot.settings import locate

    found = locate(configuration(), Path.cwd())
    if found.problem is not None and not create:
        fail(found.problem)
    if found.problem is not None and found.database is not None:
        typer.echo(f"jcbot: creating the database {found.database}", err=True)
    return found.settings


def context(create: bool = False):
    """The ServiceContext of this invocation (built once); see `settings` for `create`."""
    global _CTX
    if _CTX is None:
        from sqlalchemy.exc import ArgumentError, OperationalError

        from jcbot.app import build_context

        found = settings(create)
        # A database that cannot be reached or a storage folder that cannot be made is
        # the operator's to fix: say which, in one line, rather than a traceback.
        with refusals():
            try:
                _CTX = build_context(found)
            except ArgumentError as exc:
                fail(f"JCBOT_DATABASE_URL: {exc}")
            except OperationalError as exc:
                fail(f"cannot open the database: {str(exc.orig or exc).splitlines()[0]}")
            except OSError as exc:
                fail(f"storage folder {exc.filename}: {exc.strerror or exc}")
    return _CTX


def reset_context() -> None:
    """Forget the cached context (tests run many invocations in one process)."""
    global _CTX
    if _CTX is not None:
        _CTX.close()
    _CTX = None


def table(rows: list[list[object]], headers: list[str]) -> str:
    """A plain text table, columns padded to their widest cell."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])
