"""ServiceContext.run: service calls from the async channels run in a pool of JCBOT_DB_THREADS threads."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings

from .helpers import clock, engine  # noqa: F401 - fixtures


@pytest.fixture
def ctx(engine, clock, tmp_path):
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_DB_THREADS": "2"}, dotenv=None)
    ctx = ServiceContext(engine, clock, settings, [])
    yield ctx
    ctx.close()


async def test_at_most_db_threads_calls_run_at_once(ctx):
    running, most, lock = 0, 0, threading.Lock()

    def call(ctx_: ServiceContext, n: int) -> str:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with ctx_.read() as tx:  # a real unit of work on the pool's thread
            tx.session.connection()
        with lock:
            running -= 1
        return threading.current_thread().name

    names = await asyncio.gather(*(ctx.run(call, ctx, n) for n in range(8)))
    assert most == 2 and ctx.db_threads == 2
    assert all(name.startswith("jcbot-db") for name in names)


async def test_close_stops_the_pool_and_a_later_call_gets_a_new_one(ctx):
    first = ctx.executor()
    assert await ctx.run(lambda: 42) == 42
    ctx.close()
    with pytest.raises(RuntimeError):
        first.submit(lambda: None)  # shut down
    assert await ctx.run(lambda: 7) == 7  # a context used after close (tests) opens a new pool
