"""What axe-core cannot see (issue 15, WCAG 2.1 AA), checked in the HTML the app serves over ASGI:
error pages for browsers in the site's layout (JSON kept for API clients), the sign-in error tied to
its field, the result of a form post taking the focus, and actions repeated per proposal with names
that differ. The same pages go through axe-core in Chromium in tests/e2e/test_browser_accessibility.py.
"""
from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import httpx
import pytest
from sqlmodel import select

from jcbot.services import proposals
from jcbot.store.models import Committee
from jcbot.web.app import create_app
from jcbot.web.site import SECURITY_HEADERS
from tests.integration.services.helpers import ITEMS, committee

from .conftest import BASE, add_secretariat, csrf_of, sign_in

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"}
RESULT = re.compile(r'<div class="notice( error)?" id="result" role="(status|alert)" tabindex="-1" autofocus data-result>')


class Names(HTMLParser):
    """The text of every button and disclosure summary (their accessible names), hidden text included."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[tuple[str, str]] = []
        self._open: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in ("button", "summary"):
            self._open.append((tag, []))

    def handle_data(self, data) -> None:
        for _, parts in self._open:
            parts.append(data)

    def handle_endtag(self, tag) -> None:
        if tag in ("button", "summary") and self._open:
            kind, parts = self._open.pop()
            self.names.append((kind, " ".join("".join(parts).split())))


def names(page: str) -> list[tuple[str, str]]:
    parser = Names()
    parser.feed(page)
    return parser.names


@pytest.mark.parametrize("path", ["/nowhere", "/c/japan-mongolia/decisions/MN-2026-001/extra/deep/"])
async def test_an_unknown_path_is_a_page_for_a_browser_and_json_for_an_api_client(client, path):
    page = await client.get(path, headers=BROWSER)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "<title>Page not found · jcbot</title>" in text and "<h1>Page not found</h1>" in text
    assert f"There is no page at {path}." in text and '{"detail"' not in text
    # The site's layout at any depth: absolute links to the stylesheet and the committees.
    assert '<link rel="stylesheet" href="/static/site.css">' in text and '<main id="main"' in text
    assert '<a href="/">All committees</a>' in text
    for name, value in SECURITY_HEADERS.items():
        assert page.headers[name] == value
    for accept in ("application/json", "*/*", "application/json, text/html;q=0.5"):
        api = await client.get(path, headers={"Accept": accept})
        assert api.status_code == 404 and api.json() == {"detail": "Not Found"}, accept


async def test_the_api_keeps_its_problem_details_even_for_a_browser(client):
    answer = await client.get("/api/v1/nowhere", headers=BROWSER)
    assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["title"] == "Not Found"


async def test_a_path_escaped_in_the_page_and_a_wrong_method_and_form_are_pages_too(client):
    page = await client.get("/<script>x</script>", headers=BROWSER)
    assert page.status_code == 404 and "<script>x" not in page.text and "&lt;script&gt;x" in page.text
    wrong = await client.delete("/signin", headers=BROWSER)
    assert wrong.status_code == 405 and "<h1>Method Not Allowed</h1>" in wrong.text and wrong.headers["allow"]
    unread = await client.post("/answer/MN-P-2026-001", data={"version": "not a number"}, headers=BROWSER)
    assert unread.status_code == 400 and "<h1>Form not understood</h1>" in unread.text
    assert "nothing was changed" in unread.text
    assert (await client.post("/answer/MN-P-2026-001", data={"version": "x"})).status_code == 422  # JSON clients


async def test_an_unexpected_error_is_a_page_for_a_browser(ctx):
    app = create_app(ctx)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        page = await c.get("/boom", headers=BROWSER)
        plain = await c.get("/boom")
    assert page.status_code == 500 and "<h1>Something went wrong</h1>" in page.text and "a bug" not in page.text
    assert page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    assert plain.status_code == 500 and plain.text == "Internal Server Error"


async def test_the_sign_in_error_is_tied_to_its_field(client):
    form = await client.get("/signin")
    assert 'aria-describedby="email-hint"' in form.text and "aria-invalid" not in form.text and "autofocus" not in form.text
    bad = await client.post("/signin", data={"email": "not an address", "csrf": csrf_of(form.text)})
    assert bad.status_code == 400
    assert '<p class="field-error" id="email-error">Enter an email address, such as name@example.org.</p>' in bad.text
    field = re.search(r'<input type="email" id="email"[^>]*>', bad.text)
    assert field and 'aria-describedby="email-error email-hint"' in field.group(0)
    assert 'aria-invalid="true"' in field.group(0) and "autofocus" in field.group(0)
    assert 'value="not an address"' in field.group(0) and not RESULT.search(bad.text)
    expired = await client.post("/signin", data={"email": "a@jc.example", "csrf": "forged"})
    # Not the field's fault: the form-wide notice takes the focus, the field is not marked invalid.
    assert expired.status_code == 400 and RESULT.search(expired.text) and "aria-invalid" not in expired.text


async def test_the_result_of_a_form_post_takes_the_focus_and_repeated_actions_name_their_proposal(ctx, client, engine):
    committee(ctx)
    with ctx.read() as tx:
        cid = tx.session.exec(select(Committee.id)).first()
    refs = []
    for title in ("Approve MN_AM001", "Register MN001"):
        p = proposals.draft(ctx, "japan-mongolia", title, "Text.", ITEMS, "t")
        proposals.distribute(ctx, p.ref, "t")
        refs.append(p.ref)
    draft = proposals.draft(ctx, "japan-mongolia", "Register MN002", "Text.", ITEMS, "t").ref
    add_secretariat(engine, "Secretariat", "sec@jc.example", cid)
    await sign_in(client, engine, "sec@jc.example")
    page = (await client.get("/dashboard")).text
    assert not RESULT.search(page)  # nothing was posted: nothing takes the focus
    seen = names(page)
    for ref in refs:
        assert ("summary", f"Withdraw {ref}") in seen and ("button", f"Withdraw {ref}") in seen
        assert ("button", f"Appoint to {ref}") in seen and ("summary", f"Refer to a meeting {ref}") in seen
        # Hidden text after the visible label, so the name starts with what is seen (label in name).
        assert (f'<label for="withdraw-{ref}">Reason (sent to the members)<span class="visually-hidden"> for withdrawing '
                f'{ref}</span></label>') in page
    assert ("button", f"Distribute {draft}") in seen and ("button", f"Appoint to {draft}") in seen
    assert ("button", "Create the draft for the Japan-Mongolia Joint Committee") in seen
    repeated = [n for n, k in Counter(seen).items() if k > 1]
    assert not repeated, repeated
    done = await client.post(f"/dashboard/proposals/{refs[0]}/withdraw", data={"csrf": csrf_of(page), "note": "redraft"})
    assert done.status_code == 303
    after = (await client.get("/dashboard")).text
    m = RESULT.search(after)
    assert m and m.group(2) == "status" and f"{refs[0]} withdrawn; the members are told." in after[m.end():m.end() + 80]
    assert after.count("autofocus") == 1
    refused = await client.post(f"/dashboard/proposals/{refs[0]}/withdraw", data={"csrf": csrf_of(after)})
    assert refused.status_code == 303
    again = (await client.get("/dashboard")).text
    m = RESULT.search(again)
    assert m and m.group(1) == " error" and m.group(2) == "alert" and "Nothing was changed." in again
