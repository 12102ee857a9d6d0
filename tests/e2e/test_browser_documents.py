"""Documents end to end in Debian's Chromium, against `jcbot serve` and a real SMTP server.

The secretariat signs in, drafts a proposal on the dashboard, uploads a public and a
confidential PDF and distributes it. A member's email (received by the SMTP server)
carries the public PDF attached and the confidential one as a link made for them: the
link works for them, and not for an outsider (no link, a forged one, or one past its
expiry). Once adopted, the public record offers the public PDF with its SHA-256, and
the confidential one appears nowhere public. Screenshots go to test-artifacts/screenshots/.
"""
from __future__ import annotations

import hashlib
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jcbot.downloads import download_url, member_recipient
from jcbot.services import queries, roster
from jcbot.settings import load_settings
from tests.e2e.test_browser import SLUG, Site, browser, shot, site  # noqa: F401 - fixtures shared with the browser tests
from tests.e2e.test_browser_answer import rows, sign_in_to
from tests.support.documents import pdf

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PUBLIC, CONFIDENTIAL = pdf(2, "MN_PM012 public version"), pdf(3, "MN_PM012 complete, confidential")
PUBLIC_NAME, CONFIDENTIAL_NAME = "MN_PM012.pdf", "MN_PM012-complete.pdf"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def received(smtp_server, rcpt: str, ref: str, timeout: float = 30):
    """The first message to `rcpt` about `ref` the SMTP server accepted (waited for, bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in smtp_server.messages:
            if rcpt in m.rcpt_tos and ref in str(m.message["Subject"]):
                return m.message
        time.sleep(0.1)
    raise AssertionError(f"no message to {rcpt} about {ref} within {timeout} s")


def test_secretariat_uploads_distributes_and_the_public_record_publishes_only_the_public_pdf(site, browser, tmp_path,
                                                                                              smtp_server):  # noqa: F811
    roster.add_secretariat(site.ctx, "JC Secretariat", "e2e", slug=SLUG, email="sec@jc.example")
    files = tmp_path / "upload"
    files.mkdir()
    (files / PUBLIC_NAME).write_bytes(PUBLIC)
    (files / CONFIDENTIAL_NAME).write_bytes(CONFIDENTIAL)
    sec = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB").new_page()
    outsider = browser.new_context().new_page()
    try:
        sign_in_to(sec, site, "/dashboard", "sec@jc.example")
        sec.get_by_text("New draft for the").click()
        sec.get_by_label("Title", exact=True).fill("Approval of MN_PM012")
        sec.get_by_label("Text of the proposed decision").fill("The Joint Committee approves MN_PM012.")
        sec.get_by_label("Item kind").select_option("methodology_approval")
        sec.get_by_label("Item title", exact=True).fill("Energy-efficient boilers")
        sec.get_by_role("button", name="Create the draft").click()
        status = sec.get_by_role("status")
        sec.locator(".notice").wait_for()
        assert status.count() == 1, sec.get_by_role("main").inner_text()
        ref = re.search(r"(MN-P-\d{4}-\d{3}) drafted", status.inner_text()).group(1)

        for name, label in ((PUBLIC_NAME, "Public"), (CONFIDENTIAL_NAME, "Confidential")):
            sec.get_by_label(f"Document to attach to {ref}").set_input_files(str(files / name))
            sec.get_by_label(re.compile(f"^{label}:")).check()
            sec.get_by_role("button", name=f"Attach to {ref}", exact=True).click()
            sec.get_by_role("status").filter(has_text=f"{name} attached to {ref}").wait_for()
        card = sec.locator(f"article[data-draft='{ref}']").inner_text()
        assert sha(PUBLIC) in card and sha(CONFIDENTIAL) in card and "confidential" in card
        shot(sec, "dashboard-draft-documents.png")
        sec.get_by_role("button", name=f"Distribute {ref}").click()
        sec.get_by_role("status").filter(has_text=f"{ref} version 1 distributed").wait_for()

        # The member's email, as the SMTP server received it.
        mail = received(smtp_server, "oyun@jc.example", ref)
        attached = {p.get_filename(): p.get_content() for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"}
        assert attached == {PUBLIC_NAME: PUBLIC}  # the public PDF attached, byte for byte; never the confidential one
        body = mail.get_body(("plain",)).get_content()
        assert sha(PUBLIC) in body and sha(CONFIDENTIAL) in body
        link = re.search(re.escape(site.url) + rf"/documents/{sha(CONFIDENTIAL)}\?t=\S+", body).group(0)

        got = outsider.request.get(link)  # the member's link, from any browser: made for them, they are entitled
        assert got.status == 200 and got.body() == CONFIDENTIAL
        assert got.headers["content-disposition"].startswith("attachment")
        bare = outsider.request.get(f"{site.url}/documents/{sha(CONFIDENTIAL)}")
        assert bare.status == 403 and CONFIDENTIAL_NAME not in bare.text()
        forged = outsider.request.get(link[:-4] + "AAAA")
        assert forged.status == 403
        settings = load_settings(env=site.env, dotenv=None)
        oyun = next(m for m in rows(site, "SELECT id, handle FROM member") if m[1] == "oyun")[0]
        old = download_url(settings, sha(CONFIDENTIAL), member_recipient(oyun),
                           datetime.now(UTC) - timedelta(days=31))  # as jcbot sent it 31 days ago
        expired = outsider.request.get(old)
        assert expired.status == 403 and "expired" in expired.text()

        # Adopted (every member affirms): the public record offers the public PDF only.
        site.affirm(ref, "tanaka", "sato", "bat", "oyun")
        assert queries.show(site.ctx, ref).status == "adopted"
        number = rows(site, "SELECT number FROM decision")[0][0]
        public = browser.new_context().new_page()
        public.goto(f"{site.url}/c/{SLUG}/decisions/{number}/")
        main = public.get_by_role("main").inner_text()
        assert PUBLIC_NAME in main and sha(PUBLIC) in main
        shot(public, "decision-documents.png")
        with public.expect_download() as dl:
            public.get_by_role("link", name=re.compile(re.escape(PUBLIC_NAME))).first.click()
        saved = Path(dl.value.path())
        assert saved.read_bytes() == PUBLIC
        for path in ("/", f"/c/{SLUG}/", f"/c/{SLUG}/decisions/{number}/", f"/c/{SLUG}/feed.atom",
                     f"/c/{SLUG}/decisions.json"):
            text = outsider.request.get(site.url + path).text()
            assert CONFIDENTIAL_NAME not in text and sha(CONFIDENTIAL) not in text, path
        public.context.close()
    finally:
        sec.context.close()
        outsider.context.close()
