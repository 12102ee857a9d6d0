"""`jcbot slack ...`: link members to Slack users, see who a user is, run Socket Mode."""
from __future__ import annotations

import asyncio
import signal

import typer

from jcbot.cli.common import actor, context, fail, refusals, table
from jcbot.services import roster
from jcbot.services.slack_identity import identify

app = typer.Typer(help="Slack: link members to Slack users, check identities, run Socket Mode.", no_args_is_help=True)


@app.command("link")
def link(slug: str, handle: str, user_id: str = typer.Argument(..., help="The Slack user id (U...).")) -> None:
    """Record the Slack user id of a member (same as `member update --slack`)."""
    if user_id[:1] not in ("U", "W") or not user_id.isalnum():
        fail(f"{user_id!r} is not a Slack user id (they look like U0123ABCD; see the user's profile, 'Copy member ID')")
    with refusals():
        roster.update_member(context(), slug, handle, actor(), slack_user_id=user_id)
    typer.echo(f"{slug}/{handle} is Slack user {user_id}")


@app.command("whois")
def whois(user_id: str, email: str = typer.Option(None, "--email", help="Also match (and link) members by this email.")) -> None:
    """What jcbot knows a Slack user as: memberships, roles, secretariat."""
    with refusals():
        who = identify(context(), user_id, email)
    if not who.known:
        typer.echo(f"{user_id}: not a member of any committee nor of the secretariat")
        raise typer.Exit(1)
    if who.seats:
        typer.echo(table([[s.slug, s.handle, s.name, s.role] for s in who.seats], ["committee", "member", "name", "role"]))
    if who.secretariat:
        typer.echo("secretariat of: " + ", ".join("every committee" if c is None else str(c) for c in who.secretariat))


@app.command("socket")
def socket() -> None:
    """Connect to Slack in Socket Mode (JCBOT_SLACK_APP_TOKEN) and serve until interrupted."""
    from jcbot.channels.slack.socket import run_socket_mode

    ctx = context()
    if not (ctx.settings.slack_bot_token and ctx.settings.slack_app_token):
        fail("Socket Mode needs JCBOT_SLACK_BOT_TOKEN and JCBOT_SLACK_APP_TOKEN")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        typer.echo("jcbot: serving Slack over Socket Mode; Ctrl-C to stop")
        await run_socket_mode(ctx, stop)

    with refusals():
        asyncio.run(main())
