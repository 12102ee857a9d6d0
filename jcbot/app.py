"""The composition root: settings -> engine, clock, channel renderers and senders.

The only module that knows every piece; the CLI, the HTTP app and `serve` ask it for
a ready ServiceContext instead of wiring things themselves.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jcbot import resources
from jcbot.clock import Clock, SystemClock
from jcbot.deferred import Deferred
from jcbot.services.context import Notice, Rendered, Renderer, ServiceContext
from jcbot.settings import Settings, load_settings
from jcbot.store.db import database_url, init_db, init_db_apart, make_engine, storage_dir


class _Deferred(Deferred):
    """A channel's renderer, built on first use: the context only needs the channel's name.

    Services enqueue notices as data (STYLE habit 13) and each sender renders at dispatch,
    so a command that never renders (most of the CLI) never imports Jinja, the MIME
    policy or aiohttp.
    """

    def __init__(self, channel: str, build: Callable[[], Renderer]) -> None:
        super().__init__(build)
        self.channel = channel

    def render(self, notice: Notice) -> list[Rendered]:
        return self.real().render(notice)


def _email(settings: Settings, engine: Any) -> Renderer:
    from jcbot.channels.email.compose import EmailRenderer

    return EmailRenderer(settings, engine=engine)  # the engine: attachments stored in the database


def _http(settings: Settings) -> Renderer:
    from jcbot.channels.http import HttpRenderer

    return HttpRenderer(settings)


def _slack(settings: Settings) -> Renderer:
    from jcbot.channels.slack.compose import SlackRenderer

    return SlackRenderer(settings)


def renderers(settings: Settings, engine: Any = None) -> list[Renderer]:
    """The channels that shape notices: email always (files or SMTP), HTTP (registries' endpoints), Slack when configured.

    Each is built on first use (`_Deferred`). The HTTP channel is always there: a registry
    with an endpoint gets its notification POSTed (an http row is enqueued only where the
    notice names an endpoint: services/outgoing.address).
    """
    out: list[Renderer] = [_Deferred("email", lambda: _email(settings, engine)), _Deferred("http", lambda: _http(settings))]
    if settings.slack_bot_token:
        out.append(_Deferred("slack", lambda: _slack(settings)))
    return out


def build_context(settings: Settings | None = None, clock: Clock | None = None, migrate: bool = True,
                  apart: bool = False) -> ServiceContext:
    """A ServiceContext on the configured database (brought to the newest schema).

    `apart`: a migration runs in a child process (init_db_apart), so a process that
    stays up (`jcbot serve`) never holds Alembic.
    """
    settings = settings or load_settings()
    # The templates and rules folders the settings name, for the renderers that hold no settings.
    resources.use(settings)
    storage_dir(settings)  # made now: documents and mail files go there whichever the database
    engine = make_engine(database_url(settings), pool_size=settings.db_threads)
    if migrate:
        if apart:
            init_db_apart(engine, settings.log_level)
        else:
            init_db(engine)
    return ServiceContext(engine=engine, clock=clock or SystemClock(), settings=settings, renderers=renderers(settings, engine))
