"""Pages, the dashboard's data and the API answer while a writer holds SQLite's write lock.

Reads open `ServiceContext.read` (a DEFERRED, read-only transaction under WAL): they
never queue behind a writer. Had any of them begun BEGIN IMMEDIATE, it would wait out
the 30-second busy timeout here; each must answer within a few seconds instead.
"""
from __future__ import annotations

import asyncio
import time

from jcbot.services import apikeys, assertions, board, queries, signin
from jcbot.services.viewers import viewer
from support.write_lock import write_lock_held
from tests.integration.services.helpers import SECRETARIAT, committee, distributed, tick

from .conftest import sign_in

PROMPT = 5.0  # seconds; far below the busy timeout a queued read would wait


async def warmed(client, *paths: str, **kwargs) -> None:
    """Each path asked once before the lock is taken, so the timed answers measure the read alone.

    FastAPI prepares a router's routes (their pydantic schemas) on the first request that
    reaches it: seconds on a loaded 2-core machine, and nothing to do with the lock.
    """
    for path in paths:
        assert (await client.get(path, **kwargs)).status_code == 200


def objected(ctx) -> str:
    committee(ctx)
    ref = distributed(ctx, title="Approve MN_AM001")
    tick(ctx.clock)
    assertions.record_assertion(ctx, ref, "dorj", "negative", channel="email", evidence_key="d", actor=SECRETARIAT,
                                opinion="Too high a baseline.")
    return ref


async def test_the_dashboard_answers_while_a_writer_holds_the_lock(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    await warmed(client, "/dashboard")
    with write_lock_held(engine):
        started = time.monotonic()
        page = await asyncio.wait_for(client.get("/dashboard"), PROMPT)
        assert page.status_code == 200 and ref in page.text and "Too high a baseline." in page.text
        assert time.monotonic() - started < PROMPT


async def test_the_dashboard_data_and_sign_in_checks_are_reads(ctx, engine):
    ref = objected(ctx)
    with write_lock_held(engine):
        started = time.monotonic()
        with ctx.read() as tx:
            who = viewer(tx.session, "bat@japan-mongolia.example", tx.now)
        assert who is not None
        [b] = board.board(ctx, who)
        assert [c.view.proposal.ref for c in b.cards] == [ref]
        assert board.unfiled_problems(ctx, who) == []
        assert signin.session_email(ctx, "no-such-session") is None
        assert signin.link_is_open(ctx, "no-such-token") is False
        assert signin.confirm_link(ctx, "no-such-token") is None  # refused from a read, no lock needed
        assert signin.request_link(ctx, "stranger@example.org") is False
        assert queries.committee_of(ctx, ref) == b.access.committee.id
        assert [v.proposal.ref for v in queries.pending(ctx)] == [ref]
        assert time.monotonic() - started < PROMPT


async def test_the_api_answers_while_a_writer_holds_the_lock(ctx, client, engine):
    ref = objected(ctx)
    key = apikeys.create(ctx, "registry-sync", "test")[1]
    await warmed(client, "/api/v1/proposals", f"/api/v1/proposals/{ref}", headers={"X-API-Key": key})
    await warmed(client, "/")
    with write_lock_held(engine):
        started = time.monotonic()
        listed = await asyncio.wait_for(client.get("/api/v1/proposals", headers={"X-API-Key": key}), PROMPT)
        one = await asyncio.wait_for(client.get(f"/api/v1/proposals/{ref}", headers={"X-API-Key": key}), PROMPT)
        site = await asyncio.wait_for(client.get("/"), PROMPT)
        assert listed.status_code == 200 and [p["ref"] for p in listed.json()] == [ref]
        assert one.status_code == 200 and one.json()["status"] == "objected"
        assert site.status_code == 200
        assert time.monotonic() - started < PROMPT
