"""Fixtures: a committee with Slack members, and jcbot's HTTP app served by uvicorn on a real socket."""
from __future__ import annotations

import asyncio
import socket
from datetime import timedelta

import pytest
import uvicorn

from jcbot.channels.slack.compose import SlackRenderer
from jcbot.clock import ManualClock
from jcbot.resources import resolve_rules
from jcbot.services import proposals, roster
from jcbot.services.context import ServiceContext
from jcbot.store.db import init_db, make_engine
from jcbot.web.app import create_app

from .helpers import PEOPLE, T0, SlackHttp, settings_for


@pytest.fixture
def ctx(db_url, fake_slack, tmp_path):
    """Services on an empty database, Slack configured against the fake, the clock at T0."""
    engine = make_engine(db_url)
    init_db(engine)
    settings = settings_for(fake_slack, tmp_path)
    yield ServiceContext(engine, ManualClock(T0 - timedelta(hours=1)), settings, [SlackRenderer(settings)])
    engine.dispose()


@pytest.fixture
def ref(ctx) -> str:
    """A committee (two co-chairs, an alternate, two members) and one proposal distributed at T0."""
    rules = resolve_rules("japan-mongolia")
    roster.create_committee(ctx, "japan-mongolia", rules.read_text(), str(rules), "test")
    for handle, government, user, email, tz in PEOPLE:
        roster.add_member(ctx, "japan-mongolia", handle, government, "test", name=handle.capitalize(), email=email,
                          slack_user_id=user, timezone=tz)
    roster.elect_cochair(ctx, "japan-mongolia", "japan", "tanaka", "test")
    roster.elect_cochair(ctx, "japan-mongolia", "host", "bat", "test")
    roster.set_alternate(ctx, "japan-mongolia", "tanaka", "suzuki", "test")
    p = proposals.draft(ctx, "japan-mongolia", "Approve methodology MN_AM005",
                        "The Joint Committee approves the methodology for efficient boilers.",
                        [proposals.Item("methodology_approval", "Efficient boilers")], "test")
    ctx.clock.set(T0)
    proposals.distribute(ctx, p.ref, "test")
    return p.ref


@pytest.fixture
async def slack_http(ctx, fake_slack):
    """create_app(ctx) served by uvicorn on 127.0.0.1 (a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    assert server.started, "uvicorn did not start"
    yield SlackHttp(f"http://127.0.0.1:{sock.getsockname()[1]}", fake_slack)
    server.should_exit = True
    await asyncio.wait_for(task, 10)
    sock.close()


