"""jcbot.channels.http: an adopted issuance POSTed to a real local registry endpoint, retried until it answers 2xx."""
from __future__ import annotations

import json
import socket
from datetime import timedelta

import pytest
from aiohttp import web

from jcbot.channels.http import HttpRenderer, HttpSender
from jcbot.services import cases, proposals
from jcbot.services.assertions import record_assertion
from jcbot.services import outgoing
from jcbot.services.context import Notice, Recipient
from jcbot.services.dispatcher import Dispatcher, TemporaryFailure
from jcbot.services.roster import add_secretariat
from jcbot.store import outbox as store
from jcbot.store.db import session_scope
from jcbot.store.models import Decision
from jcbot.store.outbox import Outgoing

from tests.integration.services.helpers import (SECRETARIAT, RecordingRenderer, committee, new_context, outbox_rows,
                                                rows, tick)
from tests.integration.services.helpers import clock, engine  # noqa: F401 - fixtures
from tests.support.ports import HOST

SLUG = "japan-mongolia"
MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")


class Registry:
    """A registry endpoint on port 0 that answers the scripted statuses in turn (then 200) and records each request."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, dict]] = []  # (headers, JSON body)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), json.loads(await request.read())))
        status = self.statuses.pop(0) if self.statuses else 200
        headers = {"Retry-After": "120"} if status == 429 else None
        return web.json_response({"ok": status < 300}, status=status, headers=headers)

    async def __aenter__(self) -> Registry:
        app = web.Application()
        app.router.add_post("/notify", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, HOST, 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://{HOST}:{port}/notify"
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@pytest.fixture
def ctx(engine, clock, tmp_path):  # noqa: F811 - the shared fixtures
    # The registries' email goes to a recording renderer; the http channel is the real one.
    renderers: list = [RecordingRenderer("email")]
    ctx = new_context(engine, clock, tmp_path / "storage", renderers=renderers)
    renderers.append(HttpRenderer(ctx.settings))
    return ctx


def _unanimous(ctx, ref):
    for m in MEMBERS:
        tick(ctx.clock)
        record_assertion(ctx, ref, m, "affirmative", channel="slack", evidence_key=f"{ref}:{m}", actor="slack")


def notified_issuance(ctx, url: str) -> Decision:
    """A registered project whose issuance the JC adopted: Japan's registry has `url`, the host's none."""
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
    cases.set_registry(ctx, SLUG, "japan", "registry@jp.example", url, SECRETARIAT)
    cases.set_registry(ctx, SLUG, "host", "registry@mn.example", None, SECRETARIAT)
    proj = cases.submit(ctx, SLUG, "project", "Solar power in Darkhan", "tpe@tpe.example", [], SECRETARIAT)
    tick(ctx.clock)
    cases.record(ctx, proj.ref, "pdd-published", [], SECRETARIAT)
    ctx.clock.advance(timedelta(days=32))
    cases.record(ctx, proj.ref, "validation-report", [], SECRETARIAT)
    cases.record(ctx, proj.ref, "registration-requested", [], SECRETARIAT)
    cases.check(ctx, proj.ref, True, None, SECRETARIAT)
    p = cases.propose(ctx, [proj.ref], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    _unanimous(ctx, p.ref)
    iss = cases.record(ctx, proj.ref, "issuance-requested", [], SECRETARIAT, amount=1000,
                       shares={"japan": 600, "host": 400}, period="2026-01-01/2026-06-30")
    cases.check(ctx, iss.ref, True, None, SECRETARIAT)
    q = cases.propose(ctx, [iss.ref], SECRETARIAT)
    proposals.distribute(ctx, q.ref, SECRETARIAT)
    _unanimous(ctx, q.ref)
    assert cases.show(ctx, iss.ref).view.state == "notified"
    return rows(ctx.engine, Decision)[-1]


def http_row(engine):
    [row] = outbox_rows(engine, "registry_notification", channel="http")
    return row


async def test_a_registry_that_fails_twice_gets_the_same_record_three_times_then_it_is_sent(ctx, engine):
    async with Registry(500, 500) as registry:
        decision = notified_issuance(ctx, registry.url)
        row = http_row(engine)
        assert (row.recipient, row.status) == (registry.url, "pending")  # only Japan's registry has an endpoint
        dispatcher = Dispatcher(engine, {"http": HttpSender(HttpRenderer(ctx.settings))}, ctx.clock)
        assert await dispatcher.run_once() == 1
        row = http_row(engine)
        assert row.status == "pending" and row.last_error.startswith(f"POST {registry.url} answered 500")
        with session_scope(engine) as s:  # shown as a delivery problem (jcbot outbox list, the dashboard)
            assert row.id in [m.id for m in store.problems(s)]
        assert await dispatcher.run_once() == 0  # not due before the backoff
        for _ in range(2):
            ctx.clock.advance(store.backoff(http_row(engine).attempts))
            assert await dispatcher.run_once() == 1
    row = http_row(engine)
    assert (row.status, row.attempts) == ("sent", 3)
    with session_scope(engine) as s:
        assert row.id not in [m.id for m in store.problems(s)]
    expected = {"type": "jcm.issuance_notification", "committee": {"code": "MN", "slug": SLUG, "name": decision_name(engine)},
                "project": "MN001", "case": row.payload["notice"]["data"]["notification"]["case"],
                "period": "2026-01-01/2026-06-30", "government": "japan", "amount": 600, "total_amount": 1000,
                "unit": "tCO2e", "decision": decision.number, "adopted_at": decision.adopted_at.isoformat(),
                "audit_hash": decision.audit_hash}
    assert [body for _, body in registry.requests] == [expected] * 3
    keys = {headers["Idempotency-Key"] for headers, _ in registry.requests}
    assert keys == {row.dedupe_key}
    assert all(h["Content-Type"] == "application/json" for h, _ in registry.requests)


def decision_name(engine) -> str:
    from jcbot.store.models import Committee

    return rows(engine, Committee)[0].name


async def test_an_unreachable_registry_stays_pending_with_its_reason(ctx, engine):
    url = f"http://{HOST}:{closed_port()}/notify"
    notified_issuance(ctx, url)
    dispatcher = Dispatcher(engine, {"http": HttpSender(HttpRenderer(ctx.settings), timeout=5)}, ctx.clock)
    for _ in range(3):
        assert await dispatcher.run_once() == 1
        ctx.clock.advance(timedelta(hours=2))
    row = http_row(engine)
    assert (row.status, row.attempts) == ("pending", 3)
    assert row.last_error.startswith(f"POST {url}: could not connect") and "refused" in row.last_error.lower()
    with session_scope(engine) as s:
        [problem] = [m for m in store.problems(s) if m.channel == "http"]
        assert problem.committee_id is not None  # on its committee's dashboard


def _message(url: str) -> Outgoing:
    notice = Notice("registry_notification", "k", Recipient("registry:japan", "Registry (japan)"),
                    {"endpoint": url, "notification": {"amount": 600}})
    return Outgoing(1, "http", "registry_notification", url, "http:k", outgoing.to_payload(notice), 1)


async def test_a_4xx_is_temporary_and_its_retry_after_is_kept():
    async with Registry(429) as registry:
        with pytest.raises(TemporaryFailure) as caught:
            await HttpSender().send(_message(registry.url))
    assert caught.value.reason.startswith(f"POST {registry.url} answered 429 Too Many Requests")
    assert caught.value.retry_after == timedelta(seconds=120)
    assert registry.requests[0][1] == {"amount": 600}


async def test_no_answer_in_time_is_temporary():
    import asyncio

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response()

    app = web.Application()
    app.router.add_post("/notify", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, HOST, 0).start()
    url = f"http://{HOST}:{runner.addresses[0][1]}/notify"
    try:
        with pytest.raises(TemporaryFailure, match=r"no answer within 0.3 s"):
            await HttpSender(timeout=0.3).send(_message(url))
    finally:
        await runner.cleanup()


def test_serve_wires_the_http_channel(tmp_path):
    from jcbot.app import renderers
    from jcbot.cli.serve import _senders
    from jcbot.settings import load_settings

    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path)}, dotenv=None)
    assert "http" in [r.channel for r in renderers(settings)]
    assert isinstance(_senders(settings)["http"], HttpSender)
