"""`jcbot expert appoint|revoke|list`: experts (alone or as a panel) the JC appoints to a proposal."""
from __future__ import annotations

import json

import typer

from jcbot.cli.common import actor, context, refusals, table

app = typer.Typer(help="Experts appointed to a proposal: they read its documents and comment; they never assert.",
                  no_args_is_help=True)


@app.command("appoint")
def appoint(ref: str, name: str = typer.Option(..., "--name", help="The expert's name, as emails greet them."),
            email: str = typer.Option(..., "--email", help="Where the documents and the page link go."),
            panel: str = typer.Option(None, "--panel", help="The panel they serve on, e.g. 'Methodologies Panel'.")) -> None:
    """Appoint an expert to a proposal; a distributed version is sent to them at once, and each later one."""
    from jcbot.services import experts

    with refusals():
        a = experts.appoint(context(), ref, name, email, actor(), panel)
    typer.echo(f"{ref}: {a.name} <{a.email}> appointed as an expert{' (' + a.panel + ')' if a.panel else ''}")


@app.command("revoke")
def revoke(ref: str, email: str) -> None:
    """End an expert's appointment: their page and download links stop working."""
    from jcbot.services import experts

    with refusals():
        a = experts.revoke(context(), ref, email, actor())
    typer.echo(f"{ref}: {a.name} <{a.email}> is no longer appointed")


@app.command("list")
def list_(ref: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The experts appointed to a proposal (revoked ones marked)."""
    from jcbot.services import experts

    with refusals():
        rows = experts.of_proposal(context(), ref)
    if as_json:
        typer.echo(json.dumps([{"name": a.name, "email": a.email, "panel": a.panel,
                                "appointed_at": a.appointed_at.isoformat(),
                                "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None} for a in rows],
                              indent=2, ensure_ascii=False))
        return
    if not rows:
        typer.echo(f"{ref}: no expert appointed")
        return
    typer.echo(table([[a.name, a.email, a.panel or "-", f"{a.appointed_at:%Y-%m-%d}",
                       "revoked" if a.revoked_at else "appointed"] for a in rows],
                     ["expert", "email", "panel", "since", "status"]))
