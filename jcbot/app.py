"""The composition root: settings -> engine, clock, channel renderers and senders.

The only module that knows every piece; the CLI, the HTTP app and `serve` ask it for
a ready ServiceContext instead of wiring things themselves.
"""
from __future__ import annotations

from jcbot import resources
from jcbot.clock import Clock, SystemClock
from jcbot.services.context import Renderer, ServiceContext
from jcbot.settings import Settings, load_settings
from jcbot.store.db import database_url, init_db, make_engine, storage_dir


def renderers(settings: Settings, engine=None) -> list[Renderer]:
    """The channels that shape notices: email always (files or SMTP), HTTP (registries' endpoints), Slack when configured."""
    out: list[Renderer] = []
    try:
        from jcbot.channels.email.compose import EmailRenderer
    except ModuleNotFoundError as exc:  # pragma: no cover - only while the channel is being built
        if exc.name != "jcbot.channels.email.compose":
            raise
    else:
        out.append(EmailRenderer(settings, engine=engine))  # the engine: attachments stored in the database
    # Always: a registry with an endpoint gets its notification POSTed (an http row is
    # enqueued only where the notice names an endpoint: services/outgoing.address).
    from jcbot.channels.http import HttpRenderer

    out.append(HttpRenderer(settings))
    if settings.slack_bot_token:
        from jcbot.channels.slack.compose import SlackRenderer

        out.append(SlackRenderer(settings))
    return out


def build_context(settings: Settings | None = None, clock: Clock | None = None, migrate: bool = True) -> ServiceContext:
    """A ServiceContext on the configured database (brought to the newest schema)."""
    settings = settings or load_settings()
    # The templates and rules folders the settings name, for the renderers that hold no settings.
    resources.use(settings)
    storage_dir(settings)  # made now: documents and mail files go there whichever the database
    engine = make_engine(database_url(settings), pool_size=settings.db_threads)
    if migrate:
        init_db(engine)
    return ServiceContext(engine=engine, clock=clock or SystemClock(), settings=settings, renderers=renderers(settings, engine))
