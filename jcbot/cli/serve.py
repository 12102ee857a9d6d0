"""`jcbot serve`: the one process a secretariat starts and leaves running."""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from jcbot.deferred import Deferred
from jcbot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("jcbot.serve")


def register(app: typer.Typer) -> None:
    """Add the `serve` command."""
    app.command("serve")(serve)


def serve() -> None:
    """Run the HTTP app, mail intake, the outbox dispatcher and the scheduler until SIGTERM/SIGINT."""
    from jcbot.cli.common import _OVERRIDES
    from jcbot.settings import locate

    try:
        settings = load_settings(overrides=_OVERRIDES)
    except SettingsError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    # The project's storage as the CLI finds it (from any folder below it); else made here.
    found = locate(settings, Path.cwd())
    if found.problem is not None and found.database is not None:
        typer.echo(f"jcbot: creating the database {found.database}", err=True)
    settings = found.settings
    from jcbot.logs import setup_logging

    setup_logging(settings.log_level)
    try:
        asyncio.run(run(settings))
    except OSError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)


class _LazySender(Deferred):
    """A channel's sender, made when the dispatcher first hands it a message.

    An idle `jcbot serve` then holds neither aiosmtplib nor the MIME composition (about
    3 MiB resident).
    """

    async def send(self, message: Any) -> None:
        await self.real().send(message)

    async def close(self) -> None:
        """Close the real sender if it was made (nothing was opened otherwise)."""
        close = getattr(self.built, "close", None)
        if close is not None:
            await close()


def _email(settings: Settings) -> Any:
    from jcbot.channels.email.smtp import email_sender

    return email_sender(settings)


def _http(settings: Settings) -> Any:
    from jcbot.channels.http import HttpRenderer, HttpSender

    return HttpSender(HttpRenderer(settings))


def _slack(settings: Settings) -> Any:
    from jcbot.channels.slack.sender import SlackSender

    return SlackSender(settings)


def _senders(settings: Settings, lazy: bool = False) -> dict:
    """The dispatcher's sender of each channel; `lazy`: each made on its first message (`jcbot serve`)."""
    builds: dict[str, Callable[[], Any]] = {"email": lambda: _email(settings), "http": lambda: _http(settings)}
    if settings.slack_bot_token:
        builds["slack"] = lambda: _slack(settings)
    return {channel: _LazySender(build) if lazy else build() for channel, build in builds.items()}


def _poll_maildir(ctx: Any, root: Path) -> int:
    """The Maildir intake's poll_once, imported (Jinja, the MIME intake: about 3 MiB) once a reply is in new/."""
    try:
        with os.scandir(root / "new") as entries:
            if not any(not entry.name.startswith(".") for entry in entries):
                return 0  # what poll_once answers for an empty new/
    except FileNotFoundError:
        pass  # poll_once makes the folders again
    from jcbot.channels.email import maildir as intake

    return intake.poll_once(ctx, root)


def worker_id(settings: Settings) -> str:
    """The name of this process's outbox claims: JCBOT_WORKER_ID, else HOSTNAME:HTTP_PORT."""
    # Stable across a restart of the same process slot, so the restarted process takes its
    # previous claims back at once; distinct between replicas on one host (their ports differ).
    import socket

    return settings.worker_id or f"{socket.gethostname()}:{settings.http_port}"


async def run(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Start every part, wait for `stop` (or a signal), then stop them cleanly."""
    import uvicorn

    from jcbot.app import build_context
    from jcbot.leadership import leadership_for
    from jcbot.scheduler import Scheduler
    from jcbot.services.dispatcher import Dispatcher
    from jcbot.web.front import Front

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    # A migration runs in a child process: Alembic never stays resident here.
    ctx = await asyncio.to_thread(build_context, settings, apart=True)
    dispatcher = Dispatcher(ctx.engine, _senders(settings, lazy=True), ctx.clock, worker=worker_id(settings))
    poll = None
    if settings.inbound_imap_host:
        from jcbot.channels.email.imap import poll_once

        async def poll() -> int:
            return await poll_once(ctx)
    poll_maildir = None
    maildir = settings.inbound_maildir_path
    if maildir is not None:
        from jcbot.channels.email.maildir_folders import ensure as ensure_maildir  # not the intake

        await asyncio.to_thread(ensure_maildir, maildir)

        async def poll_maildir() -> int:
            return await ctx.run(_poll_maildir, ctx, maildir)
    scheduler = Scheduler(ctx, dispatcher, poll, poll_maildir)
    # Notices committed in this process go out at once (JCBOT_DISPATCH_INTERVAL is for retries and other replicas).
    ctx.on_enqueued = scheduler.wake
    # Replicas on one PostgreSQL: only the leader sweeps, keeps the alarm, reminds and polls IMAP.
    leadership = leadership_for(ctx.engine, retry_s=settings.leader_interval)
    web = Front(ctx)  # the pages and the API are loaded on their first request
    web.state.leadership = leadership  # /healthz reports the role
    config = uvicorn.Config(web, host=settings.http_host, port=settings.http_port,
                            log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # ours handle SIGTERM
    listener = None
    if settings.inbound_lmtp_host:
        from jcbot.channels.email.lmtp import start_listener

        listener = await asyncio.to_thread(start_listener, ctx)
    if settings.slack_bot_token:
        from jcbot.channels.slack import keepalive

        keepalive.start()  # Slack's Web API calls reuse connections (closed at the stop)
    web.freeze()  # what is made by now lives as long as the process: out of the full collections
    tasks = [asyncio.create_task(server.serve(), name="http")]
    if settings.slack_app_token:
        from jcbot.channels.slack.socket import run_socket_mode

        tasks.append(asyncio.create_task(run_socket_mode(ctx, stop), name="slack-socket"))
    scheduler.start(lead=False)
    tasks.append(asyncio.create_task(leadership.run(scheduler.set_leader, stop), name="leadership"))
    _announce(settings, ctx)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    log.info("event=serve.stopping")
    server.should_exit = True
    await scheduler.shutdown()
    await dispatcher.close()  # QUIT on the idle SMTP connections
    if listener is not None:
        await asyncio.to_thread(listener.stop)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()
    if settings.slack_bot_token:
        # Only now: a request the HTTP server or Socket Mode was still finishing may call Slack.
        await keepalive.stop()
    ctx.close()  # the service thread pool, then the database connections
    for t in done:
        if t is not waiter and t.exception() is not None:
            raise t.exception()  # type: ignore[misc]
    log.info("event=serve.stopped")


def _announce(settings: Settings, ctx) -> None:
    url = ctx.engine.url.render_as_string(hide_password=True)
    mail = (f"SMTP {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})" if settings.smtp_host
            else f"written as files under {settings.storage_path.resolve() / 'mail'}")
    inbound = ", ".join(filter(None, [
        f"LMTP/SMTP listener on {settings.inbound_lmtp_host}:{settings.inbound_lmtp_port}" if settings.inbound_lmtp_host else "",
        f"IMAP {settings.inbound_imap_host} every {settings.inbound_imap_interval:g}s" if settings.inbound_imap_host else "",
        f"Maildir {settings.inbound_maildir_path.resolve()} (new/ every {settings.inbound_maildir_interval:g}s)"
        if settings.inbound_maildir_path is not None else "",
    ])) or "off (set JCBOT_INBOUND_* to take email replies)"
    slack = ("Socket Mode" if settings.slack_app_token else f"HTTP events at {settings.public_url}/slack/events") \
        if settings.slack_bot_token else "off (set JCBOT_SLACK_* to enable)"
    site = settings.public_url
    signin = (f"  sign in    {site}/signin with the email of a member or of the secretariat; the link is mailed"
              + ("" if settings.smtp_host else f" (a file in {settings.storage_path.resolve() / 'mail'})"))
    lines = [
        f"jcbot serving on http://{settings.http_host}:{settings.http_port} (public URL {settings.public_url})",
        f"  dashboard  {site}/dashboard",
        f"  public     {site}/ (adopted decisions)",
        signin,
        f"  database   {url}",
        f"  mail out   {mail}",
        f"  mail in    {inbound}",
        f"  slack      {slack}",
        f"  sweep      every {settings.sweep_interval:g}s, and at each deadline"
        + (" (by the replica holding the leader lock)" if ctx.engine.dialect.name == "postgresql" else ""),
        *([f"  answer     jcbot dev reply REF MEMBER affirm|object \"opinion\" (a member's reply into {settings.inbound_maildir_path.resolve() / 'new'})"]
          if settings.inbound_maildir_path is not None and not settings.smtp_host else []),
        "  stop with Ctrl-C or SIGTERM",
    ]
    print("\n".join(lines), flush=True)
