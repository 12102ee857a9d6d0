"""A plain member answers on the web in Debian's Chromium, against `jcbot serve` on 127.0.0.1.

From the proposal's page without a session: sign-in, back to the page; Object without an
opinion (refused, the field marked for assistive technology), Object with one (recorded,
escalated to both co-chairs), then Affirm (position changed), while the co-chairs'
dashboard tally follows. Keyboard only for the answers. Screenshots go to
test-artifacts/screenshots/.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_browser import Site, browser, shot, site  # noqa: F401 - fixtures shared with the browser tests

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def rows(site: Site, sql: str, *args) -> list[tuple]:
    db = sqlite3.connect(Path(site.env["JCBOT_STORAGE_DIR"]) / "jcbot.sqlite")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def signin_link(site: Site, after: int) -> str:
    """The first sign-in link (?next= included) newer than `after`, from the outbox (waited for, bounded)."""
    return site.signin_link(after=after)


def sign_in_to(page, site: Site, path: str, address: str) -> None:
    """Open `path` without a session: sign in, and land back on it."""
    page.goto(f"{site.url}{path}")
    assert "/signin" in page.url
    page.get_by_label("Email address").fill(address)
    mark = site.signin_mark()
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    page.goto(signin_link(site, mark))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}{path}")


def tally(page, ref: str) -> str:
    page.reload()
    return page.locator(f"article[data-ref='{ref}']").inner_text()


def test_a_member_objects_then_affirms_on_the_web(site, browser):  # noqa: F811
    ref = site.propose("Approve MN_AM001 and register MN001", "The Joint Committee approves the methodology.")
    member = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB").new_page()
    cochair = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB").new_page()
    try:
        sign_in_to(member, site, f"/answer/{ref}", "oyun@jc.example")
        member.get_by_role("heading", level=1, name=re.compile(ref)).wait_for()
        assert "Energy-efficient transformers" in member.get_by_role("main").inner_text()
        assert "Your position" in member.inner_text("main") and "none yet" in member.inner_text("main")

        # Object without an opinion, by keyboard: refused, the field marked and described.
        opinion = member.get_by_label("Your opinion (required to object)")
        opinion.focus()
        member.keyboard.press("Tab")  # to the Object button
        member.keyboard.press("Enter")
        # The refusal is a new page: wait for its error (bounded), not for the old page's load state.
        member.locator("#opinion-error").wait_for()
        opinion = member.get_by_label("Your opinion (required to object)")
        assert opinion.get_attribute("aria-invalid") == "true"
        described = opinion.get_attribute("aria-describedby").split()
        assert "opinion-error" in described
        assert "To object, write your opinion" in member.locator("#opinion-error").inner_text()
        assert rows(site, "SELECT COUNT(*) FROM assertion") == [(0,)]
        shot(member, "answer-opinion-missing.png")

        # With an opinion: recorded and escalated at once to both co-chairs.
        opinion.fill("The baseline emission factor is too high.")
        member.get_by_role("button", name="Object").click()
        member.get_by_role("status").filter(has_text=f"Recorded: you objected to {ref}.").wait_for()
        assert rows(site, "SELECT member, position, channel FROM assertion") == [("oyun", "negative", "web")]
        escalated = {r for (r,) in rows(site, "SELECT recipient FROM outbox_message "
                                              "WHERE kind = 'escalation' AND channel = 'email'")}
        assert escalated == {"tanaka@jc.example", "bat@jc.example"}
        shot(member, "answer-objected.png")

        sign_in_to(cochair, site, "/dashboard", "bat@jc.example")
        assert "0 affirmative, 1 negative, 3 awaited, of 4 members" in tally(cochair, ref)

        # Then Affirm: the position changes, and so does the co-chairs' tally.
        member.get_by_role("button", name="Affirm").focus()
        member.keyboard.press("Enter")
        member.get_by_role("status").filter(has_text=f"Recorded: you affirmed {ref}.").wait_for()
        assert member.locator("#my-position").inner_text().startswith("affirmative, recorded")
        assert "1 affirmative, 0 negative, 3 awaited, of 4 members" in tally(cochair, ref)
        shot(member, "answer-affirmed.png")
    finally:
        member.context.close()
        cochair.context.close()
