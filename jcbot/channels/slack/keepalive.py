"""Keep-alive for slack_sdk's Web API clients in `jcbot serve`: one aiohttp session per event loop.

Without a session of its own, slack_sdk's `AsyncWebClient` opens a new aiohttp session,
and so a new connection (to slack.com a new TLS handshake too), for every call. A burst
of clicks makes hundreds of calls: messages updated, DMs opened, confirmations posted.
`jcbot serve` starts a pool for its loop (`start`) and closes it when it stops (`stop`);
`keep_alive` gives a client the pool's session, so the calls reuse connections (aiohttp
closes one idle for 15 s). Bolt hands each request's listeners a client carrying its app
client's session. Where no pool was started (a library use, a test), clients are left
as slack_sdk makes them.
"""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

_POOLS: dict[asyncio.AbstractEventLoop, dict[float, aiohttp.ClientSession]] = {}


def start() -> None:
    """Pool the Web API connections of clients used in the running loop, until `stop`."""
    _POOLS.setdefault(asyncio.get_running_loop(), {})


async def stop() -> None:
    """Close the running loop's pool: its sessions and their connections."""
    for session in _POOLS.pop(asyncio.get_running_loop(), {}).values():
        await session.close()


def keep_alive(client: Any) -> None:
    """Give `client` the running loop's pooled session, if a pool was started there (else nothing)."""
    try:
        pool = _POOLS.get(asyncio.get_running_loop())
    except RuntimeError:
        return  # outside a loop
    if pool is None:
        return
    # A session per timeout: slack_sdk applies its client's timeout only to sessions it makes itself.
    session = pool.get(client.timeout)
    if session is None or session.closed:
        session = pool[client.timeout] = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    client.session = session
