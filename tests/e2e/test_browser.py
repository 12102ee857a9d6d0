"""The public record and the dashboard in a real browser: Playwright driving Debian's Chromium
against `jcbot serve` on 127.0.0.1.

Sign-in (link read back from the outbox table), the dashboard showing a pending proposal,
a decision appearing on the public index once adopted, and proposal text with <script>
rendered as inert text. Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import email
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from email.policy import default as default_policy
from pathlib import Path

import pytest

from jcbot.app import build_context
from jcbot.clock import SystemClock
from jcbot.resources import resolve_rules
from jcbot.services import assertions, proposals, roster
from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings
from support import service_missing
from tests.e2e.serve_helpers import free_http_port, serve_env, start_serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
SLUG = "japan-mongolia"
MEMBERS = (("tanaka", "japan", "Tanaka Hiroshi"), ("sato", "japan", "Sato Yuki"),
           ("bat", "host", "Batbayar Dorj"), ("oyun", "host", "Oyunchimeg Bold"))
SCRIPT_TEXT = '<script>alert("pwned")</script> and <img src=x onerror="alert(2)">'


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium under Playwright (skipped outside CI when missing, failed under CI)."""
    if not CHROMIUM.exists():
        service_missing(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Error as exc:
            service_missing(f"Chromium at {CHROMIUM} does not start: {exc}")
        yield b
        b.close()


class Site:
    """A served jcbot, with a service context on its database to act as members do."""

    def __init__(self, tmp: Path, smtp_port: int) -> None:
        self.port = free_http_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = serve_env(tmp, smtp_port, self.port, JCBOT_PUBLIC_URL=self.url)
        self.ctx: ServiceContext = build_context(load_settings(env=self.env, dotenv=None), SystemClock())
        path = resolve_rules(SLUG)
        roster.create_committee(self.ctx, SLUG, path.read_text(encoding="utf-8"), str(path), "e2e")
        for handle, gov, name in MEMBERS:
            roster.add_member(self.ctx, SLUG, handle, gov, "e2e", name=name, email=f"{handle}@jc.example")
        roster.elect_cochair(self.ctx, SLUG, "japan", "tanaka", "e2e")
        roster.elect_cochair(self.ctx, SLUG, "host", "bat", "e2e")
        self.served = start_serve(self.env, tmp / "serve.log")

    def propose(self, title: str, text: str) -> str:
        items = [proposals.Item("methodology_approval", "Energy-efficient transformers"),
                 proposals.Item("project_registration", "Solar power plant in Darkhan")]
        p = proposals.draft(self.ctx, SLUG, title, text, items, "e2e")
        proposals.distribute(self.ctx, p.ref, "e2e")
        return p.ref

    def affirm(self, ref: str, *who: str) -> None:
        for handle in who:
            assertions.record_assertion(self.ctx, ref, handle, "affirmative", channel="web",
                                        evidence_key=f"e2e:{ref}:{handle}", actor="e2e")

    def _newest_signin(self) -> tuple[int, str] | None:
        db = sqlite3.connect(Path(self.env["JCBOT_STORAGE_DIR"]) / "jcbot.sqlite")
        try:
            return db.execute("SELECT id, payload FROM outbox_message WHERE kind = 'signin' ORDER BY id DESC").fetchone()
        finally:
            db.close()

    def signin_mark(self) -> int:
        """The newest sign-in email's id now (0 if none): the link to use comes after it."""
        row = self._newest_signin()
        return row[0] if row else 0

    def signin_link(self, after: int = 0, timeout: float = 15) -> str:
        """The link of the first sign-in email newer than `after`, read from the outbox table.

        jcbot answers the sign-in form first and enqueues the email after the response (so
        a registered address answers as fast as an unknown one): wait for it, bounded.
        """
        deadline = time.monotonic() + timeout
        row = self._newest_signin()
        while (row is None or row[0] <= after) and time.monotonic() < deadline:
            time.sleep(0.05)
            row = self._newest_signin()
        assert row is not None and row[0] > after, f"no new sign-in email in the outbox within {timeout} s"
        payload = json.loads(row[1])
        if "notice" in payload:  # the notice as data: the email is rendered when it is sent
            return payload["notice"]["data"]["link"]
        message = email.message_from_string(payload["message"], policy=default_policy)
        body = message.get_body(preferencelist=("plain",)).get_content()
        m = re.search(re.escape(self.url) + r"/signin/[A-Za-z0-9_-]{20,}(\?next=[A-Za-z0-9%._-]+)?", body)
        assert m, body
        return m.group(0)

    def stop(self) -> None:
        self.ctx.engine.dispose()
        assert self.served.stop() == 0, self.served.log.read_text()


@pytest.fixture
def site(tmp_path, smtp_server) -> Iterator[Site]:
    s = Site(tmp_path, smtp_server.port)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB")
    p = context.new_page()
    p.dialogs = []  # type: ignore[attr-defined]
    p.on("dialog", lambda d: (p.dialogs.append(d.message), d.dismiss()))  # type: ignore[attr-defined]
    yield p
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def sign_in(page, site: Site, address: str) -> None:
    page.goto(f"{site.url}/dashboard")
    assert page.url.endswith("/signin")
    page.get_by_label("Email address").fill(address)
    mark = site.signin_mark()
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(site.signin_link(after=mark))
    page.get_by_role("heading", name="Confirm sign-in").wait_for()
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/dashboard")


def test_a_cochair_signs_in_and_sees_the_pending_proposal(site, page):
    ref = site.propose("Approve MN_AM001 and register MN001", "The Joint Committee approves the methodology.")
    site.affirm(ref, "tanaka")
    sign_in(page, site, "bat@jc.example")
    page.get_by_text("Signed in as Batbayar Dorj (bat@jc.example).").wait_for()
    card = page.locator(f"article[data-ref='{ref}']")
    assert "Approve MN_AM001 and register MN001" in card.inner_text()
    text = card.inner_text()
    assert "20 days left" in text and "1 affirmative, 0 negative, 3 awaited, of 4 members" in text
    assert "Sato Yuki, Batbayar Dorj, Oyunchimeg Bold" in text
    shot(page, "dashboard.png")
    # A reload keeps the session; signing out ends it.
    page.reload()
    assert page.url.endswith("/dashboard")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/signin")
    page.goto(f"{site.url}/dashboard")
    assert page.url.endswith("/signin")


def test_a_decision_appears_on_the_public_index_once_adopted(site, page):
    ref = site.propose("Approve MN_AM001 and register MN001",
                       "The Joint Committee approves the methodology MN_AM001.\n\nIt registers the project MN001.")
    page.goto(f"{site.url}/c/{SLUG}/")
    page.get_by_text("No decision has been adopted yet.").wait_for()
    site.affirm(ref, "tanaka", "sato", "bat", "oyun")  # unanimity: adopted at the last assertion
    page.reload()
    link = page.get_by_role("link", name="MN-2026-001")
    link.wait_for()
    shot(page, "committee-index.png")
    page.goto(f"{site.url}/")
    assert "1 decision" in page.get_by_role("main").inner_text()
    shot(page, "index.png")
    page.goto(f"{site.url}/c/{SLUG}/")
    page.get_by_role("link", name="MN-2026-001").click()
    page.get_by_role("heading", level=1, name="Approve MN_AM001 and register MN001").wait_for()
    main = page.get_by_role("main").inner_text()
    assert "Electronic decision: unanimous" in main and "MN_AM001" in main and "It registers the project MN001." in main
    shot(page, "decision.png")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    shot(page, "decision-phone.png")
    page.emulate_media(media="print")
    shot(page, "decision-print.png")


def test_script_in_a_proposal_is_shown_as_text_and_never_runs(site, page):
    ref = site.propose(f"Title with {SCRIPT_TEXT}", f"Text with {SCRIPT_TEXT}\nand a second line.")
    sign_in(page, site, "tanaka@jc.example")
    card = page.locator(f"article[data-ref='{ref}']")
    assert SCRIPT_TEXT in card.get_by_role("heading", level=4).inner_text()
    site.affirm(ref, "tanaka", "sato", "bat", "oyun")
    page.goto(f"{site.url}/c/{SLUG}/decisions/MN-2026-001/")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == f"Title with {SCRIPT_TEXT}"
    body = page.locator("[data-field=text]").inner_text()
    assert f"Text with {SCRIPT_TEXT}\nand a second line." in body
    assert page.locator("main script, main img").count() == 0
    page.wait_for_timeout(300)  # give a would-be onerror handler its chance
    assert page.dialogs == []  # type: ignore[attr-defined]
    shot(page, "decision-escaped.png")
