"""`jcbot publish --out DIR`, `jcbot verify-published DIR`, `jcbot apikey create|list|revoke`."""
from __future__ import annotations

from pathlib import Path

import typer

from jcbot.cli.common import actor, context, fail, refusals, table

apikey_app = typer.Typer(help="API keys of the integrations calling /api/v1.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add `publish`, `verify-published` and the `apikey` group."""
    app.command("publish")(publish)
    app.command("verify-published")(verify_published)
    app.add_typer(apikey_app, name="apikey")


def publish(out: Path = typer.Option(..., "--out", help="Folder to write the static site into (created if missing)."),
            base_url: str = typer.Option(None, "--base-url", help="Address the copy will be served at, for the "
                                                                    "feed's links; default JCBOT_PUBLIC_URL.")) -> None:
    """Write the public record (pages, Atom feeds, JSON) as a static site."""
    from jcbot.publish.static import PublishError
    from jcbot.publish.static import publish as write_site

    try:
        result = write_site(context(), out, base_url)
    except PublishError as exc:
        fail(str(exc), 1)
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}", 1)
    head = f"audit head event {result.head[0]} {result.head[1]}" if result.head else "empty audit chain"
    typer.echo(f"published {result.decisions} decision(s) of {result.committees} committee(s) to {out} "
               f"({result.files} files; {head})")


def check_published(directory: Path) -> None:
    """Check a published copy against the audit chain; exit 1 naming the first mismatch."""
    from jcbot.publish.verify import verify_published as check

    if not directory.is_dir():
        fail(f"{directory}: not a folder")
    with context().read() as tx:
        report = check(tx.session, directory)
    if not report.ok:
        more = f" (and {len(report.problems) - 1} more)" if len(report.problems) > 1 else ""
        typer.echo(f"published record does NOT match the audit chain: {report.problems[0]}{more}", err=True)
        raise typer.Exit(1)
    typer.echo(f"published record ok: {report.decisions} decision entries in {report.files} files match the "
               f"audit chain (head {report.head})")


def verify_published(directory: Path = typer.Argument(..., help="The folder `jcbot publish` wrote.")) -> None:
    """Check a published copy: hashes in the chain, decisions as recorded, none missing."""
    check_published(directory)


@apikey_app.command("create")
def apikey_create(name: str = typer.Argument(..., help="The integration, e.g. registry-sync."),
                  scope: list[str] = typer.Option(None, "--scope", help="What the key may do: read, draft, distribute "
                                                  "(and withdraw), record (letters); repeat for several. Default: read."),
                  committee: list[str] = typer.Option(None, "--committee", help="A committee (slug) the key may act "
                                                      "on; repeat for several. Default: every committee.")) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    from jcbot.services import apikeys

    with refusals():
        row, key = apikeys.create(context(), name, actor(), scope or ("read",), committee or None)
    where = ", ".join(apikeys.committees_of(row) or ("every committee",))
    typer.echo(f"API key for {row.name}, scopes {', '.join(apikeys.scopes_of(row))} on {where} "
               f"(send it in the X-API-Key header; it is not shown again):\n{key}")


@apikey_app.command("list")
def apikey_list() -> None:
    """Every key: name, prefix, scopes, committees, created, revoked."""
    from jcbot.services import apikeys

    rows = [[k.name, k.prefix + "...", k.scopes, k.committees or "all", f"{k.created_at:%Y-%m-%d}", k.created_by,
             f"{k.revoked_at:%Y-%m-%d}" if k.revoked_at else None] for k in apikeys.all_keys(context())]
    typer.echo(table(rows, ["name", "key", "scopes", "committees", "created", "by", "revoked"])
               if rows else "no API keys")


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke a key: its requests are refused from now on."""
    from jcbot.services import apikeys

    with refusals():
        apikeys.revoke(context(), name, actor())
    typer.echo(f"API key {name} revoked")
