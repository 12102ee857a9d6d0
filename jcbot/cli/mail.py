"""`jcbot mail ...`: look at email the way jcbot's intake does, without a database."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer

from jcbot.channels.email.limits import bound
from jcbot.channels.email.parse import ReplyReading, parse_message, read_reply
from jcbot.channels.email.received import Dating, received_instant
from jcbot.channels.email.tokens import TokenError, unverified_claims
from jcbot.clock import SystemClock

app = typer.Typer(help="Email intake.", no_args_is_help=True)


def _limits() -> dict[str, int]:
    # The intake's limits, from the settings (environment and .env); their defaults when the
    # settings are unusable: no other setting matters here, and no database is opened.
    from jcbot.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError:
        settings = load_settings(env={}, dotenv=None)
    return {"header": settings.inbound_max_header_bytes, "body": settings.inbound_max_body_bytes}


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


def _dated(dating: Dating) -> str:
    if dating.at is not None:
        return f"{dating.at.isoformat()} ({dating.header})"
    return "jcbot's receipt" + (f" ({dating.problem})" if dating.problem else " (no trusted MTA given)")


def _print_text(reading: ReplyReading, tokens: list[dict], dating: Dating) -> None:
    rows = [
        ("assertion", reading.assertion or "none"),
        ("opinion", reading.opinion or "none"),
        ("kind", reading.kind),
        ("reason", reading.reason),
        ("message-id", reading.message_id or "none"),
        ("from", reading.from_address or "none"),
        ("in-reply-to", reading.in_reply_to or "none"),
        ("dated", _dated(dating)),
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
    trusted: str = typer.Option(
        "", "--trusted-received-by", envvar="JCBOT_TRUSTED_RECEIVED_BY",
        help="Comma-separated host names of your MTAs: show the instant their Received headers date the reply at.",
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
    # Read as the intake reads it: the same limits (a huge header is not parsed at all).
    settings = _limits()
    bounded = bound(raw, settings["header"], settings["body"])
    if bounded.problem is not None:
        typer.echo(f"error: {file}: {bounded.problem}; jcbot ignores such a message unread", err=True)
        raise typer.Exit(2)
    msg = parse_message(bounded.raw)
    reading = read_reply(msg, reply_local=local)
    tokens = _token_views(reading)
    # Before the listener's checks of the proposal: a date before its distribution would still fall back.
    dating = received_instant(msg, trusted.split(","), SystemClock().now())
    if as_json:
        data = {
            "assertion": reading.assertion, "opinion": reading.opinion, "kind": reading.kind,
            "reason": reading.reason, "message_id": reading.message_id, "from": reading.from_address,
            "in_reply_to": reading.in_reply_to, "references": list(reading.references),
            "recipients": list(reading.recipients), "answer_line": reading.answer_line, "tokens": tokens,
            "dated": {"at": dating.at.isoformat() if dating.at else None, "header": dating.header,
                      "problem": dating.problem},
        }
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        _print_text(reading, tokens, dating)


def report(result, where: str) -> None:
    """One line for what the intake made of a message; exit 1 when nothing was recorded."""
    from jcbot.cli.common import fail

    if result.outcome in ("recorded", "duplicate"):
        typer.echo(f"{where}: {result.outcome}: {result.reason}")
        return
    rule = f" by rule {result.rule}" if result.rule else ""
    answered = "; a refusal is in the outbox for the sender" if result.answered else ""
    fail(f"{where}: {result.outcome}{rule}: {result.reason}{answered}", 1)


@app.command("receive")
def receive(file: Path = typer.Argument(..., help="An email saved as .eml (RFC 5322 message).")) -> None:
    """Feed one email through jcbot's intake, as the LMTP listener and the Maildir do."""
    from jcbot.channels.email.inbound import receive as intake, transient
    from jcbot.cli.common import context, fail

    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if not raw.strip():
        fail(f"{file} is empty, not an email message")
    ctx = context()
    try:
        result = intake(ctx, raw, via="file")
    except Exception as exc:
        if transient(exc):
            fail(f"{file}: the database cannot take it now ({str(exc).splitlines()[0]}); nothing was recorded, try again", 1)
        raise
    report(result, str(file))
