"""`jcbot case ...` and `jcbot registry ...`: the project cycle's cases and the governments' registries (thin)."""
from __future__ import annotations

import json

import typer

from jcbot.cli.common import actor, context, fail, refusals, table
from jcbot.cli.document import read_uploads

case_app = typer.Typer(help="Cases of the project cycle: methodologies, projects, issuances, TPEs.",
                       no_args_is_help=True)
registry_app = typer.Typer(help="Governments' registries: where issuance notifications go.", no_args_is_help=True)

CASE_DOCUMENT_HELP = ("A document of the case, PATH[:public|:confidential] (default public), repeatable. "
                      "Stored once by its SHA-256.")


def register(app: typer.Typer) -> None:
    """Mount `case` and `registry` on the root command."""
    app.add_typer(case_app, name="case")
    app.add_typer(registry_app, name="registry")


@case_app.command("submit")
def submit(committee: str, kind: str = typer.Argument(..., help="methodology, project or tpe."),
           title: str = typer.Option(..., "--title", help="The case's title."),
           proponent: str = typer.Option(..., "--proponent", help="The proponent's email address (notices go there)."),
           document: list[str] = typer.Option(None, "--document", help=CASE_DOCUMENT_HELP)) -> None:
    """Submit a case; prints its reference (and a methodology's XX_PM### number)."""
    from jcbot.services import cases

    uploads = read_uploads(document)
    with refusals():
        case = cases.submit(context(), committee, kind, title, proponent, uploads, actor())
    typer.echo(case.ref + (f" {case.number}" if case.number else ""))


@case_app.command("check")
def check(ref: str, outcome: str = typer.Argument(..., help="complete or incomplete."),
          reason: str = typer.Option(None, "--reason", help="What is missing (required for incomplete).")) -> None:
    """Record the secretariat's completeness check."""
    from jcbot.services import cases

    if outcome not in ("complete", "incomplete"):
        fail(f"outcome: expected complete or incomplete, got {outcome!r}")
    with refusals():
        view = cases.check(context(), ref, outcome == "complete", reason, actor())
    typer.echo(f"{ref}: {view.state}")


def _shares(specs: list[str] | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for spec in specs or []:
        gov, _, n = spec.partition("=")
        if not gov.strip() or not n.strip().lstrip("-").isdigit():
            fail(f"--share {spec!r}: expected GOV=N, e.g. japan=600")
        out[gov.strip()] = int(n)
    return out


@case_app.command("record")
def record(ref: str, event: str = typer.Argument(..., help="pdd-published, validation-report, registration-requested, "
                                                           "issuance-requested or resubmitted."),
           document: list[str] = typer.Option(None, "--document", help=CASE_DOCUMENT_HELP),
           amount: int = typer.Option(None, "--amount", help="issuance-requested: tonnes CO2e."),
           share: list[str] = typer.Option(None, "--share", help="issuance-requested: GOV=N, a registry's share; repeatable."),
           period: str = typer.Option(None, "--period", help="issuance-requested: the monitoring period.")) -> None:
    """Record an event of a case; an issuance request prints the new issuance case's reference."""
    from jcbot.services import cases

    uploads = read_uploads(document)
    with refusals():
        case = cases.record(context(), ref, event, uploads, actor(), amount=amount, shares=_shares(share) or None,
                            period=period)
    typer.echo(f"{case.ref}: {case.state}")


def _as_json(info) -> dict:
    from jcbot.core.cycle import summary

    c, v = info.case, info.view
    return {"ref": c.ref, "committee": info.committee.slug, "kind": c.kind, "title": c.title, "proponent": c.proponent,
            "created_at": c.created_at.isoformat(), **summary(v), "numbers": list(v.numbers), "proposal": v.proposal,
            "request": c.request,
            "events": [{"at": e.at.isoformat(), "event": e.kind, "data": e.data, "actor": e.actor,
                        "documents": e.documents or []} for e in info.events],
            "documents": [{"name": cd.name, "sha256": d.sha256, "visibility": d.visibility, "size": d.size,
                           "media_type": d.media_type} for cd, d in info.documents],
            "proposals": [{"ref": r, "item": pos, "outcome": o, "status": s} for r, pos, o, s in info.proposals],
            "trace": [s.text for s in v.trace]}


@case_app.command("show")
def show(ref: str, as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Where a case stands: state, numbers, windows, duties, documents, events, proposals."""
    from jcbot.services import cases

    with refusals():
        info = cases.show(context(), ref)
    data = _as_json(info)
    if as_json:
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    typer.echo(f"{data['ref']}  {data['kind']}  {data['title']}")
    typer.echo(f"  state       {data['state']}" + (f"  number {data['number']}" if data["number"] else ""))
    typer.echo(f"  proponent   {data['proponent']}")
    for name, w in data["windows"].items():
        typer.echo(f"  window      {name}: {w['start']} .. {w['end']}")
    typer.echo(f"  inputs      {data['inputs_counted']} counted, {data['inputs_refused']} refused")
    for duty in data["duties"]:
        typer.echo(f"  duty        {duty}")
    if data["proposal"]:
        typer.echo(f"  proposal    {data['proposal']} (open)")
    for d in data["documents"]:
        typer.echo(f"  document    {d['name']} ({d['visibility']}, {d['size']} bytes) SHA-256 {d['sha256']}")
    for line in data["trace"]:
        typer.echo(f"  - {line}")


@case_app.command("list")
def list_(committee: str = typer.Argument(None, help="A committee's slug (default: every committee)."),
          as_json: bool = typer.Option(False, "--json", help="Print a JSON list.")) -> None:
    """Every case, with its state, number, duty and open proposal."""
    from jcbot.services import cases

    with refusals():
        found = cases.list_cases(context(), committee)
    items = [{"ref": c.ref, "kind": c.kind, "title": c.title, "state": v.state, "number": v.number,
              "duties": list(v.duties), "proposal": v.proposal} for c, v in found]
    if as_json:
        typer.echo(json.dumps(items, indent=2))
        return
    if not items:
        typer.echo("no cases")
        return
    typer.echo(table([[i["ref"], i["kind"], i["state"], i["number"] or "-", ", ".join(i["duties"]) or "-",
                       i["proposal"] or "-", i["title"]] for i in items],
                     ["ref", "kind", "state", "number", "duty", "proposal", "title"]))


@case_app.command("propose")
def propose(refs: list[str] = typer.Argument(..., help="The cases the proposal bundles, one item each."),
            outcome: str = typer.Option("approve", "--outcome", help="approve, approve_with_revisions or reject."),
            title: str = typer.Option(None, "--title", help="The proposal's title (default: from the cases).")) -> None:
    """Draft one JC proposal with an item per case and their documents; distribute it with `proposal distribute`."""
    from jcbot.services import cases

    with refusals():
        p = cases.propose(context(), refs, actor(), outcome=outcome, title=title)
    typer.echo(f"drafted {p.ref}")


@registry_app.command("set")
def registry_set(committee: str, government: str = typer.Argument(..., help="japan or host."),
                 email: str = typer.Option(..., "--email", help="The registry's address for notifications."),
                 url: str = typer.Option(None, "--url", help="Its HTTP endpoint: notifications are POSTed there too.")
                 ) -> None:
    """Where a government's registry receives the committee's issuance notifications."""
    from jcbot.services import cases

    with refusals():
        r = cases.set_registry(context(), committee, government, email, url, actor())
    typer.echo(f"registry {government}: {r.email}" + (f" {r.url}" if r.url else ""))
