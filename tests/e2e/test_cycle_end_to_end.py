"""Issue 13's "done when", end to end: the project cycle from submission to the public record and the registries.

The web app runs in-process on a real port (uvicorn in a thread) over a context whose
clock is a ManualClock the test moves, since windows are whole days; its renderers are
the real ones (build_context). Mail goes through the real dispatcher (serve's senders)
to a real SMTP server; members answer by replying to the distribution email they
received, composed as their mail client would (`jcbot dev reply`'s compose_reply), fed
through the real intake (inbound.receive).

(a) A methodology is submitted and checked complete; a public input is sent and
    confirmed in Chromium (the link read from the email the SMTP server received);
    a second one confirmed after the window closed is refused; a proposal bundles the
    methodology with a TPE's application; the members adopt it by email replies; the
    public site shows MN_AM001 approved.
(b) A project from PDD publication through its inputs window, validation report,
    registration request and check to MN001 registered; then an issuance request with
    its shares, checked and adopted; the notification reaches a local HTTP registry that
    answers 500 twice then 200: three identical JSON bodies, one Idempotency-Key, sent.
"""
from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp import web

from jcbot.app import build_context
from jcbot.channels.email import inbound
from jcbot.cli.dev import compose_reply
from jcbot.cli.serve import _senders
from jcbot.clock import ManualClock
from jcbot.services import cases, proposals
from jcbot.services.documents import Upload
from jcbot.services.roster import add_secretariat
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import load_settings
from jcbot.store import outbox as store
from jcbot.store.models import Committee, Decision, Proposal
from jcbot.web.app import create_app
from support.documents import pdf
from support.ports import HOST
from tests.e2e.test_browser import browser, shot  # noqa: F401 - the Chromium fixture (fails under CI when missing)
from tests.integration.services.helpers import SECRETARIAT, committee, current_version, outbox_rows, rows

pytestmark = [pytest.mark.slow]

SLUG = "japan-mongolia"
MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")  # helpers.committee()
# 09:00 on 2 March 2026 in Ulaanbaatar (the committee's time zone, UTC+8).
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
WAIT = 30  # seconds: the bound of every wait on a server


def wait_for(check, what: str, timeout: float = WAIT):
    """check() until it returns something truthy, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


class Loop:
    """An asyncio loop in a thread, for the dispatcher and the registry endpoint (the test itself is synchronous)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="e2e-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = WAIT * 2) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


class World:
    """jcbot on SQLite with a ManualClock: the web app on a real port, serve's dispatcher, a real SMTP server."""

    def __init__(self, tmp, smtp_server) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.url = f"http://{HOST}:{self.sock.getsockname()[1]}"
        self.smtp = smtp_server
        settings = load_settings(env={
            "JCBOT_STORAGE_DIR": str(tmp / "storage"), "JCBOT_SECRET": "e2e-cycle-secret-0123456789",
            "JCBOT_PUBLIC_URL": self.url, "JCBOT_MAIL_FROM": "jcbot@jc.example",
            "JCBOT_SMTP_HOST": smtp_server.host, "JCBOT_SMTP_PORT": str(smtp_server.port),
            "JCBOT_SMTP_SECURITY": "none"}, dotenv=None)
        self.clock = ManualClock(T0)
        self.ctx = build_context(settings, self.clock)
        committee(self.ctx)
        add_secretariat(self.ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
        self.loop = Loop()
        self.dispatcher = Dispatcher(self.ctx.engine, _senders(settings), self.clock)
        self.server = uvicorn.Server(uvicorn.Config(create_app(self.ctx), log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, name="e2e-web",
                                       daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, "the web app did not start")

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT)
        self.loop.run(self.dispatcher.close())
        self.loop.close()
        self.sock.close()
        self.ctx.engine.dispose()

    def tick(self, minutes: int = 1) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    def deliver(self) -> int:
        """Dispatcher passes until none is due now (bounded); how many messages it handled."""
        total = 0
        for _ in range(100):
            n = self.loop.run(self.dispatcher.run_once())
            if n == 0:
                return total
            total += n
        raise AssertionError("the outbox never ran dry in 100 passes")

    def mail(self, rcpt: str, notice: str, about: str) -> EmailMessage:
        """The last email of kind `notice` to `rcpt` whose subject names `about`, as the SMTP server received it."""
        found = [m.message for m in self.smtp.messages
                 if rcpt in m.rcpt_tos and m.message["X-Jcbot-Notice"] == notice and about in str(m.message["Subject"])]
        assert found, f"no {notice} email to {rcpt} about {about}"
        return found[-1]

    def adopt_by_email(self, ref: str) -> Decision:
        """Each member replies AFFIRM to the distribution email they received; the last reply adopts."""
        self.deliver()
        for handle in MEMBERS:
            address = f"{handle}@{SLUG}.example"
            original = self.mail(address, "distribution", ref)
            assert original["Reply-To"] and "+" in str(original["Reply-To"])  # the member's token address
            self.tick()
            raw = compose_reply(original.as_string(), handle.title(), address, "AFFIRM", None, self.clock.now())
            result = inbound.receive(self.ctx, raw, via="e2e")
            assert result.outcome == "recorded", (handle, result)
        [p] = rows(self.ctx.engine, Proposal, Proposal.ref == ref)
        assert p.status == "adopted", (ref, p.status)
        [d] = rows(self.ctx.engine, Decision, Decision.version_id == current_version(self.ctx.engine, ref).id)
        return d


@pytest.fixture
def world(tmp_path, smtp_server) -> Iterator[World]:
    w = World(tmp_path, smtp_server)
    try:
        yield w
    finally:
        w.close()


def confirmation_link(w: World, address: str, ref: str) -> str:
    """The confirmation link in the public_input email `address` received."""
    text = w.mail(address, "public_input", ref).get_body(("plain",)).get_content()
    links = re.findall(r"https?://\S+/inputs/confirm/[A-Za-z0-9_-]+", text)
    assert len(set(links)) == 1, text
    assert links[0].startswith(w.url + "/")
    return links[0]


def send_input(page, w: World, path: str, name: str, email: str, text: str) -> None:
    """Fill and send the public-input form of a case page in the browser."""
    page.goto(w.url + path)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Affiliation (optional)").fill("Green Institute")
    page.get_by_label("Email address (never published)").fill(email)
    page.get_by_label("Your input").fill(text)
    page.get_by_role("button", name="Send my input").click()
    page.get_by_role("heading", name="Check your email").wait_for()


@pytest.mark.browser
def test_a_methodology_from_submission_to_mn_am001_on_the_public_site(world, browser):  # noqa: F811
    w = world
    meth = cases.submit(w.ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example",
                        [Upload("MN_PM001.pdf", pdf(2, "MN_PM001 public"), "public"),
                         Upload("MN_PM001-full.pdf", pdf(2, "MN_PM001 complete"), "confidential")], SECRETARIAT)
    tpe = cases.submit(w.ctx, SLUG, "tpe", "Verifiers Ltd", "tpe@verifiers.example", [], SECRETARIAT)
    w.tick(60)
    assert cases.check(w.ctx, meth.ref, True, None, SECRETARIAT).state == "public_inputs"
    window = cases.show(w.ctx, meth.ref).view.windows["public_inputs"]
    w.tick()
    path = f"/c/{SLUG}/cases/{meth.ref}/"

    page = browser.new_context(locale="en-GB").new_page()
    try:
        # An input sent and confirmed in the browser within the window.
        send_input(page, w, path, "Ana Ruiz", "ana@example.org", "The baseline emission factor is too high.")
        # Another one sent now, confirmed only after the window has closed.
        send_input(page, w, path, "Late Larry", "larry@example.org", "I confirm too late.")
        assert w.deliver() > 0
        link = confirmation_link(w, "ana@example.org", meth.ref)
        late = confirmation_link(w, "larry@example.org", meth.ref)
        page.goto(link)
        page.get_by_role("button", name="Confirm my input").click()
        page.get_by_role("heading", name="Input confirmed").wait_for()
        page.goto(w.url + path)
        assert "The baseline emission factor is too high." in page.locator("[data-field=input]").inner_text()

        # The window closes: time moves past its end (whole days in the committee's time zone).
        w.clock.set(window.end + timedelta(minutes=1))
        assert cases.show(w.ctx, meth.ref).view.state == "awaiting_decision"
        page.goto(late)
        page.get_by_role("button", name="Confirm my input").click()
        page.get_by_role("heading", name="Input refused").wait_for()
        assert "closed" in page.locator("main").inner_text()
        page.goto(w.url + path)
        assert page.get_by_role("button", name="Send my input").count() == 0  # no form once the call is closed
        assert page.locator("[data-field=input]").count() == 1  # the late input is not published
        assert len(cases.show(w.ctx, meth.ref).view.inputs_counted) == 1

        # One JC proposal bundles the methodology with the TPE's application; the members adopt it by email.
        p = cases.propose(w.ctx, [meth.ref, tpe.ref], SECRETARIAT)
        w.tick()
        proposals.distribute(w.ctx, p.ref, SECRETARIAT)
        decision = w.adopt_by_email(p.ref)
        body = w.mail(f"tanaka@{SLUG}.example", "distribution", p.ref).get_body(("plain",)).get_content()
        assert "1 public input(s) counted" in body  # the proposal says how many inputs counted
        assert decision.items[0]["reference"] == "MN_AM001"
        view = cases.show(w.ctx, meth.ref).view
        assert (view.state, view.number) == ("approved", "MN_AM001")
        assert cases.show(w.ctx, tpe.ref).view.state == "designated"

        # The public site: the case page and the committee's cycle record.
        page.goto(w.url + path)
        assert page.locator("[data-field=state]").get_attribute("data-state") == "approved"
        assert "MN_AM001" in page.locator("[data-field=numbers]").inner_text()
        assert page.locator("[data-field=decision]").get_attribute("data-number") == decision.number
        shot(page, "cycle-methodology-approved.png")
        page.goto(f"{w.url}/c/{SLUG}/cases/")
        assert "MN_AM001" in page.locator("main").inner_text()
    finally:
        page.context.close()
    record = httpx.get(f"{w.url}/c/{SLUG}/cases.json", timeout=WAIT).json()
    assert record["approved_methodologies"] == [meth.ref] and record["designated_tpes"] == [tpe.ref]
    [published] = [c for c in record["cases"] if c["ref"] == meth.ref]
    assert (published["state"], published["number"]) == ("approved", "MN_AM001")
    assert [i["name"] for i in published["public_inputs"]] == ["Ana Ruiz"]
    assert [d["name"] for d in published["documents"]] == ["MN_PM001.pdf"]  # never the confidential one
    decision_page = httpx.get(f"{w.url}/c/{SLUG}/decisions/{decision.number}/", timeout=WAIT)
    assert decision_page.status_code == 200 and "MN_AM001" in decision_page.text


class Registry:
    """A registry's endpoint on port 0 answering 500 twice, then 200; it records every request."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, dict]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), json.loads(await request.read())))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status < 300}, status=status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/jcm/notifications", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, 0).start()
        self.url = f"http://{HOST}:{self.runner.addresses[0][1]}/jcm/notifications"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


def test_a_project_from_pdd_to_an_issuance_notification_a_failing_registry_acknowledges(world):
    w = world
    registry = Registry(500, 500)
    w.loop.run(registry.start())
    try:
        cases.set_registry(w.ctx, SLUG, "japan", "registry@jp.example", registry.url, SECRETARIAT)
        cases.set_registry(w.ctx, SLUG, "host", "registry@mn.example", None, SECRETARIAT)
        proj = cases.submit(w.ctx, SLUG, "project", "Solar power in Darkhan", "tpe@verifiers.example", [], SECRETARIAT)
        w.tick()
        cases.record(w.ctx, proj.ref, "pdd-published", [Upload("PDD.pdf", pdf(3, "PDD public"), "public")], SECRETARIAT)
        window = cases.show(w.ctx, proj.ref).view.windows["public_inputs"]
        assert (window.end - window.start) >= timedelta(days=30)
        w.clock.set(window.end + timedelta(hours=1))
        assert cases.show(w.ctx, proj.ref).view.state == "validation"
        cases.record(w.ctx, proj.ref, "validation-report", [Upload("VR.pdf", pdf(1, "validation"), "public")],
                     SECRETARIAT)
        w.tick()
        cases.record(w.ctx, proj.ref, "registration-requested", [], SECRETARIAT)
        w.tick(60)
        assert cases.check(w.ctx, proj.ref, True, None, SECRETARIAT).state == "awaiting_decision"
        p = cases.propose(w.ctx, [proj.ref], SECRETARIAT)
        w.tick()
        proposals.distribute(w.ctx, p.ref, SECRETARIAT)
        w.adopt_by_email(p.ref)
        view = cases.show(w.ctx, proj.ref).view
        assert (view.state, view.number) == ("registered", "MN001")

        w.clock.advance(timedelta(days=200))
        iss = cases.record(w.ctx, proj.ref, "issuance-requested", [], SECRETARIAT, amount=1000,
                           shares={"japan": 600, "host": 400}, period="2026-04-01/2026-09-30")
        w.tick(60)
        assert cases.check(w.ctx, iss.ref, True, None, SECRETARIAT).state == "awaiting_decision"
        q = cases.propose(w.ctx, [iss.ref], SECRETARIAT)
        w.tick()
        proposals.distribute(w.ctx, q.ref, SECRETARIAT)
        decision = w.adopt_by_email(q.ref)
        assert cases.show(w.ctx, iss.ref).view.state == "notified"

        # The real dispatcher: the first POST is answered 500, and so is the retry after the backoff; the third is 200.
        w.deliver()
        [row] = outbox_rows(w.ctx.engine, "registry_notification", channel="http")
        assert (row.recipient, row.status, row.attempts) == (registry.url, "pending", 1)
        assert row.last_error.startswith(f"POST {registry.url} answered 500")
        assert w.deliver() == 0  # not due again before its backoff
        for attempt in (2, 3):
            w.clock.advance(store.backoff(row.attempts))
            assert w.deliver() >= 1
            [row] = outbox_rows(w.ctx.engine, "registry_notification", channel="http")
            assert row.attempts == attempt
        assert row.status == "sent"
    finally:
        w.loop.run(registry.stop())

    [c] = rows(w.ctx.engine, Committee)
    expected = {"type": "jcm.issuance_notification", "committee": {"code": "MN", "slug": SLUG, "name": c.name},
                "project": "MN001", "case": iss.ref, "period": "2026-04-01/2026-09-30", "government": "japan",
                "amount": 600, "total_amount": 1000, "unit": "tCO2e", "decision": decision.number,
                "adopted_at": decision.adopted_at.isoformat(), "audit_hash": decision.audit_hash}
    assert [body for _, body in registry.requests] == [expected] * 3
    assert {h["Idempotency-Key"] for h, _ in registry.requests} == {row.dedupe_key}
    # Each registry also had it by email, with its own amount; the public record shows MN001 and the issuance.
    for address, amount in (("registry@jp.example", 600), ("registry@mn.example", 400)):
        mail = w.mail(address, "registry_notification", "")
        assert str(amount) in mail.get_body(("plain",)).get_content() and decision.number in str(mail)
    record = httpx.get(f"{w.url}/c/{SLUG}/cases.json", timeout=WAIT).json()
    assert record["registered_projects"] == [proj.ref] and record["issuance_notifications"] == [iss.ref]
    [published] = [x for x in record["cases"] if x["ref"] == iss.ref]
    assert published["state"] == "notified" and published["request"]["amount"] == 1000
