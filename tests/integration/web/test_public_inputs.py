"""The public-input form of a case page, over ASGI: a pending input, a confirmation page that changes nothing, a POST."""
from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from jcbot.services import cases
from jcbot.services.documents import Upload
from jcbot.services.roster import add_secretariat
from jcbot.store.cases import CaseEvent
from jcbot.store.db import session_scope
from jcbot.store.inputs import PublicInput
from jcbot.web.app import create_app
from jcbot.web.public_cases import client_address
from support.documents import pdf
from tests.integration.services.helpers import SECRETARIAT, committee, outbox

from .conftest import BASE, csrf_of, web_context

SLUG = "japan-mongolia"
FORM = {"name": "Ana Ruiz", "affiliation": "Green Institute", "email": "ana@example.org",
        "text": "The baseline <script>is</script> too high."}


def _open_case(ctx):
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
    case = cases.submit(ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example",
                        [Upload("public.pdf", pdf(text="public"), "public"),
                         Upload("secret-full.pdf", pdf(text="secret"), "confidential")], SECRETARIAT)
    ctx.clock.advance(timedelta(hours=1))
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    ctx.clock.advance(timedelta(minutes=1))
    return case


def _count(engine, model, *where) -> int:
    with session_scope(engine) as s:
        q = select(func.count()).select_from(model)
        for w in where:
            q = q.where(w)
        return s.execute(q).scalar_one()


def _links(engine) -> list[str]:
    return [n.payload["data"]["link"] for n in outbox(engine, "public_input")]


async def _send(client, path, **over):
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return await client.post(path + "inputs", data=FORM | over | {"csrf": csrf_of(page.text)})


async def test_send_confirm_and_publish(ctx, client, engine):
    case = _open_case(ctx)
    path = f"/c/{SLUG}/cases/{case.ref}/"
    page = await client.get(path)
    assert page.status_code == 200
    assert '<label for="input-name">' in page.text and '<label for="input-email">' in page.text
    assert 'action="inputs"' in page.text and "Send my input" in page.text
    sent = await client.post(path + "inputs", data=FORM | {"csrf": csrf_of(page.text)})
    assert sent.status_code == 200 and 'role="status"' in sent.text and "Check your email" in sent.text
    assert _count(engine, PublicInput) == 1
    [link] = _links(engine)
    confirm_path = link.removeprefix(BASE)
    assert confirm_path.startswith("/inputs/confirm/")
    # Opening the link (a mail scanner does) changes nothing.
    for _ in range(2):
        opened = await client.get(confirm_path)
        assert opened.status_code == 200 and "Confirm my input" in opened.text and 'method="post"' in opened.text
    assert _count(engine, CaseEvent, CaseEvent.kind == "input_confirmed") == 0
    assert _count(engine, PublicInput, PublicInput.confirmed_at.is_not(None)) == 0  # type: ignore[union-attr]
    # The page before confirmation does not show the input.
    assert "Ana Ruiz" not in (await client.get(path)).text
    # A POST without the form's token changes nothing.
    forged = await client.post(confirm_path, data={"csrf": "0" * 64})
    assert forged.status_code == 400 and 'role="alert"' in forged.text
    assert _count(engine, CaseEvent, CaseEvent.kind == "input_confirmed") == 0
    done = await client.post(confirm_path, data={"csrf": csrf_of(opened.text)})
    assert done.status_code == 200 and "Input confirmed" in done.text and 'role="status"' in done.text
    assert _count(engine, CaseEvent, CaseEvent.kind == "input_confirmed") == 1
    shown = (await client.get(path)).text
    assert "Ana Ruiz" in shown and "Green Institute" in shown and "&lt;script&gt;" in shown
    assert "ana@example.org" not in shown
    # Confirmed twice: the first verdict stands.
    again = await client.post(confirm_path, data={"csrf": csrf_of(opened.text)})
    assert again.status_code == 200 and "already confirmed" in again.text
    assert _count(engine, CaseEvent, CaseEvent.kind == "input_confirmed") == 1


async def test_a_late_confirmation_is_refused_with_the_windows_end(ctx, client, engine):
    case = _open_case(ctx)
    path = f"/c/{SLUG}/cases/{case.ref}/"
    await _send(client, path)
    [link] = _links(engine)
    opened = await client.get(link.removeprefix(BASE))
    ctx.clock.advance(timedelta(days=16))
    done = await client.post(link.removeprefix(BASE), data={"csrf": csrf_of(opened.text)})
    assert done.status_code == 409 and 'role="alert"' in done.text
    assert re.search(r"closed on \d+ \w+ 2026, 00:00 \(Asia/Ulaanbaatar, UTC\+08:00\)", done.text), done.text
    page = (await client.get(path)).text
    assert "Ana Ruiz" not in page and "Send my input" not in page  # closed: no form


async def test_form_errors_are_tied_to_their_fields_and_csrf_is_checked(ctx, client, engine):
    case = _open_case(ctx)
    path = f"/c/{SLUG}/cases/{case.ref}/"
    bad = await _send(client, path, name="", email="nope")
    assert bad.status_code == 400 and 'role="alert"' in bad.text
    assert 'aria-describedby="input-name-error"' in bad.text and 'id="input-name-error"' in bad.text
    assert 'aria-describedby="input-email-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert "The baseline" in bad.text  # what was typed is kept
    forged = await client.post(path + "inputs", data=FORM | {"csrf": "x"})
    assert forged.status_code == 400 and "The form expired" in forged.text
    assert _count(engine, PublicInput) == 0 and _links(engine) == []


async def test_too_many_inputs_get_a_clear_429(engine, clock, tmp_path):
    ctx = web_context(engine, clock, tmp_path / "storage")
    case = _open_case(ctx)
    path = f"/c/{SLUG}/cases/{case.ref}/"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(ctx)), base_url=BASE) as client:
        for _ in range(5):
            assert (await _send(client, path)).status_code == 200
        limited = await _send(client, path)
    assert limited.status_code == 429 and "Too many inputs" in limited.text and 'role="alert"' in limited.text
    assert int(limited.headers["retry-after"]) > 0
    assert _count(engine, PublicInput) == 5


async def test_submitting_when_no_call_is_open_is_refused(ctx, client, engine):
    committee(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Boilers", "pp@proponent.example", [], SECRETARIAT)
    path = f"/c/{SLUG}/cases/{case.ref}/"
    page = await client.get(path)
    assert page.status_code == 200 and "Send my input" not in page.text
    token = csrf_of((await client.get("/signin")).text)  # the site's one CSRF cookie and key
    refused = await client.post(path + "inputs", data=FORM | {"csrf": token})
    assert refused.status_code == 409 and "no call for public inputs open" in refused.text
    assert _count(engine, PublicInput) == 0
    unknown = await client.get("/inputs/confirm/not-a-token")
    assert unknown.status_code == 404
    assert (await client.get(f"/c/{SLUG}/cases/MN-C-2026-999/")).status_code == 404


def test_client_address_believes_forwarded_for_only_from_trusted_proxies():
    def request(peer, xff=None):
        headers = [(b"x-forwarded-for", xff.encode())] if xff else []
        from starlette.requests import Request
        return Request({"type": "http", "client": (peer, 1234), "headers": headers})

    assert client_address(request("203.0.113.5", "198.51.100.7"), ()) == "203.0.113.5"
    assert client_address(request("203.0.113.5", "198.51.100.7"), ("10.0.0.1",)) == "203.0.113.5"
    assert client_address(request("10.0.0.1", "6.6.6.6, 198.51.100.7"), ("10.0.0.1",)) == "198.51.100.7"
    assert client_address(request("10.0.0.1", "198.51.100.7, 10.0.0.2"), ("10.0.0.1", "10.0.0.2")) == "198.51.100.7"
    assert client_address(request("10.0.0.1"), ("10.0.0.1",)) == "10.0.0.1"
