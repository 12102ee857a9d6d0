"""The HTTP app over ASGI on a real database (SQLite and PostgreSQL), with a clock tests move."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine, select

from jcbot.clock import ManualClock
from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings
from jcbot.store.db import session_scope
from jcbot.store.models import Secretariat
from jcbot.store.outbox import OutboxMessage
from jcbot.web.app import create_app
from tests.integration.services.helpers import RecordingRenderer
from tests.integration.services.helpers import clock, engine  # noqa: F401 - fixtures shared with the service tests

BASE = "http://jc.example"


def web_context(engine: Engine, clock: ManualClock, storage, public_url: str = BASE) -> ServiceContext:
    """A context whose notices become outbox rows holding the notice itself (kind, key, data)."""
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "web-tests-secret-0123456789",
                                  "JCBOT_PUBLIC_URL": public_url}, dotenv=None)
    return ServiceContext(engine, clock, settings, [RecordingRenderer("email"), RecordingRenderer("slack")])


@pytest.fixture
def ctx(engine, clock, tmp_path) -> ServiceContext:
    return web_context(engine, clock, tmp_path / "storage")


@pytest.fixture
async def client(ctx) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def signin_links(engine: Engine) -> list[str]:
    """The links of every sign-in notice in the outbox, oldest first."""
    with session_scope(engine) as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "signin").order_by(OutboxMessage.id))
        # The payload is the notice itself (rendered at dispatch) or, as stored before, {kind, key, data}.
        return [(r.payload.get("notice") or r.payload)["data"]["link"] for r in rows]


def add_secretariat(engine: Engine, name: str, email: str, committee_id: int | None = None) -> None:
    with session_scope(engine) as s:
        s.add(Secretariat(name=name, email=email, committee_id=committee_id))


async def sign_in(client: httpx.AsyncClient, engine: Engine, email: str) -> None:
    """The whole sign-in flow: form, link from the outbox, confirmation page, button."""
    page = await client.get("/signin")
    sent = await client.post("/signin", data={"email": email, "csrf": csrf_of(page.text)})
    assert sent.status_code == 200, sent.text
    link = signin_links(engine)[-1]
    path = link.removeprefix(BASE)
    confirm = await client.get(path)
    assert confirm.status_code == 200 and "Confirm sign-in" in confirm.text
    done = await client.post(path, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard", done.text
