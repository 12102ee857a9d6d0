"""`jcbot mail ...`: look at email the way jcbot's intake does, without a database."""
from __future__ import annotations

import json
from dataclasses import asdict
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import typer

from jcbot.channels.email.parse import ReplyReading, read_reply
from jcbot.channels.email.tokens import TokenError, unverified_claims

app = typer.Typer(help="Email intake.", no_args_is_help=True)


def _token_views(reading: ReplyReading) -> list[dict]:
    views = []
    for token in reading.tokens:
        try:
            claims = asdict(unverified_claims(token))
            problem = None
        except TokenError as exc:
            claims, problem = None, str(exc)
        views.append({"token": token, "unverified_claims": claims, "problem": problem})
    return views


def _print_text(reading: ReplyReading, tokens: list[dict]) -> None:
    rows = [
        ("assertion", reading.assertion or "none"),
        ("opinion", reading.opinion or "none"),
        ("kind", reading.kind),
        ("reason", reading.reason),
        ("message-id", reading.message_id or "none"),
        ("from", reading.from_address or "none"),
        ("in-reply-to", reading.in_reply_to or "none"),
    ]
    for view in tokens:
        claims = view["unverified_claims"]
        if claims:
            # Without the secret only the ids can be shown; the intake checks the MAC.
            detail = "proposal {proposal_id}, version {version}, member {member_id}; not verified".format(**claims)
        else:
            detail = view["problem"]
        rows.append(("token", f"{view['token']} ({detail})"))
    if not tokens:
        rows.append(("token", "none found in To/Cc/Delivered-To/X-Original-To"))
    for label, value in rows:
        lines = str(value).splitlines() or [""]
        typer.echo(f"{label + ':':<13}{lines[0]}")
        for more in lines[1:]:
            typer.echo(f"{'':<13}{more}")


@app.command("parse")
def parse(
    file: Path = typer.Argument(..., help="A reply saved as .eml (RFC 5322 message)."),
    as_json: bool = typer.Option(False, "--json", help="Print the reading as JSON."),
    local: str | None = typer.Option(
        None, "--local", help="Local part of jcbot's reply address; default: any plus-address."
    ),
) -> None:
    """Show how jcbot reads a reply: assertion, opinion, kind and why."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        typer.echo(f"error: cannot read {file}: {exc.strerror or exc}", err=True)
        raise typer.Exit(2) from None
    if not raw.strip():
        typer.echo(f"error: {file} is empty, not an email message", err=True)
        raise typer.Exit(2)
    msg = message_from_bytes(raw, _class=EmailMessage, policy=default)
    reading = read_reply(msg, reply_local=local)
    tokens = _token_views(reading)
    if as_json:
        data = {
            "assertion": reading.assertion, "opinion": reading.opinion, "kind": reading.kind,
            "reason": reading.reason, "message_id": reading.message_id, "from": reading.from_address,
            "in_reply_to": reading.in_reply_to, "references": list(reading.references),
            "recipients": list(reading.recipients), "answer_line": reading.answer_line, "tokens": tokens,
        }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_text(reading, tokens)
