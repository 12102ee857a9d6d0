"""axe-core on every page jcbot serves, in Debian's Chromium against `jcbot serve` (issue 15, WCAG 2.1 AA).

One walk through the site as its users go: the public record (index, committee, decision, project
cycle, a case page with its public-input form, its errors, the answers and the confirmation page),
sign-in (form, error, sent, confirmation, a used link), the dashboard as the secretariat (with
proposals, cases, drafts and the result of a form post) and as a plain member, the answer page,
a co-chair's /act/ pages, an expert's page, and the error pages (404, 403, form expired, 500).
axe-core (pinned in tests/e2e/axe, installed by `make install-test`) runs in each page as
loaded, under the site's own CSP; the test fails listing every violation (page, rule, nodes).
Along the way it checks in the browser what axe cannot: the result of a form post has the focus
when the page loads, and the sign-in error is tied to its field.
"""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from jcbot.actionlinks import action_url
from jcbot.secret import app_secret
from jcbot.services import assertions, cases, experts, proposals
from jcbot.services.documents import Upload
from jcbot.services.roster import add_secretariat
from jcbot.web.errors import error_page
from support import service_missing
from support.documents import pdf
from tests.e2e.test_browser import SLUG, Site, browser, page, shot, sign_in, site  # noqa: F401 - shared fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, A and AA (what government sites are held to), and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RUN = """async (tags) => {
  const r = await axe.run(document, {runOnly: {type: "tag", values: tags}, resultTypes: ["violations"]});
  return {rules: r.passes.length + r.violations.length + r.incomplete.length,
          violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary.split("\\n").slice(1).join(" "))}))};
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        service_missing(f"axe-core not installed at {AXE} (npm ci in tests/e2e/axe)")
    return AXE.read_text(encoding="utf-8")


class Audit:
    """axe-core run on each page as the browser shows it; violations gathered by page."""

    def __init__(self, page, source: str) -> None:
        self.page, self.source = page, source
        self.checked: list[str] = []
        self.found: dict[str, list[dict]] = {}

    def __call__(self, label: str, status: int | None = None) -> None:
        page = self.page
        page.wait_for_load_state("load")
        assert page.evaluate("document.readyState") == "complete"
        page.evaluate(self.source)  # through the DevTools protocol: the page's CSP allows no script
        result = page.evaluate(RUN, TAGS)
        assert result["rules"] > 20, f"axe ran almost no rule on {label}"
        self.checked.append(label)
        if result["violations"]:
            self.found[f"{label} ({page.url})"] = result["violations"]
            shot(page, f"axe-{len(self.checked):02d}.png")

    def report(self) -> str:
        lines = []
        for where, violations in self.found.items():
            lines.append(where)
            for v in violations:
                lines.append(f"  {v['id']} ({v['impact']}): {v['help']}")
                lines.extend(f"    {n}" for n in v["nodes"][:8])
        return "\n".join(lines)


def outbox_link(site: Site, kind: str) -> str:
    """The link in the newest outbox notice of `kind`."""
    db = sqlite3.connect(Path(site.env["JCBOT_STORAGE_DIR"]) / "jcbot.sqlite")
    try:
        row = db.execute("SELECT payload FROM outbox_message WHERE kind = ? ORDER BY id DESC", (kind,)).fetchone()
    finally:
        db.close()
    assert row, f"no {kind} notice in the outbox"
    payload = json.loads(row[0])
    return (payload.get("notice") or payload)["data"]["link"]


def focused(page) -> str:
    """The id of the element that has the focus once the page loaded."""
    return page.evaluate("document.activeElement ? document.activeElement.id : ''")


def test_axe_finds_no_violation_on_any_page(site, page, axe_source):
    audit = Audit(page, axe_source)
    ctx, url = site.ctx, site.url
    add_secretariat(ctx, "Alice Secretariat", "e2e", slug=SLUG, email="alice@secretariat.example")
    adopted = site.propose("Approve MN_AM001 and register MN001", "The Joint Committee approves MN_AM001.")
    site.affirm(adopted, "tanaka", "sato", "bat", "oyun")
    first = site.propose("Approve MN_AM002", "The Joint Committee approves MN_AM002.")
    second = site.propose("Register MN002", "The Joint Committee registers MN002.")
    assertions.record_assertion(ctx, first, "oyun", "negative", channel="web", evidence_key="e2e:neg",
                                actor="e2e", opinion="The baseline is too high.")
    draft = proposals.draft(ctx, SLUG, "Register MN003", "Text.", [proposals.Item("project_registration", "Wind")], "e2e")
    appointed = experts.appoint(ctx, first, "Erika Expert", "erika@experts.example", "e2e", "Methodologies Panel")
    case = cases.submit(ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example",
                        [Upload("public.pdf", pdf(text="public"), "public")], "e2e")
    cases.check(ctx, case.ref, True, None, "e2e")  # its call for public inputs opens now
    waiting = cases.submit(ctx, SLUG, "methodology", "Efficient boilers", "pp@proponent.example",
                           [Upload("boilers.pdf", pdf(text="boilers"), "public")], "e2e")
    assert waiting.ref

    # The public record.
    for path, label in (("/", "index"), (f"/c/{SLUG}/", "committee"), (f"/c/{SLUG}/decisions/MN-2026-001/", "decision"),
                        (f"/c/{SLUG}/cases/", "project cycle")):
        assert page.goto(url + path).status == 200
        audit(label)
    case_path = f"/c/{SLUG}/cases/{case.ref}/"
    page.goto(url + case_path)
    audit("case page with its public-input form")
    page.get_by_role("button", name="Send my input").click()  # empty: refused, the errors listed
    page.get_by_text("The input was not sent:").wait_for()
    assert focused(page) == "form-errors"
    audit("case page with the form's errors")
    page.get_by_label("Name").fill("Ana Ruiz")
    page.get_by_label("Email address (never published)").fill("ana@example.org")
    page.get_by_label("Your input").fill("The baseline is too high.")
    page.get_by_role("button", name="Send my input").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert focused(page) == "answer"
    audit("public input sent")
    page.goto(outbox_link(site, "public_input"))
    audit("public input's confirmation page")
    page.get_by_role("button", name="Confirm my input").click()
    page.get_by_role("heading", name="Input confirmed").wait_for()
    assert focused(page) == "answer"
    audit("public input confirmed")

    # Sign-in, with its error tied to the field.
    page.goto(f"{url}/signin")
    audit("sign-in")
    page.get_by_label("Email address").fill("not an address")
    page.evaluate("document.querySelector('form[action=\"/signin\"]').noValidate = true")
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_text("Enter an email address, such as name@example.org.").wait_for()
    field = page.get_by_label("Email address")
    assert field.get_attribute("aria-invalid") == "true" and focused(page) == "email"
    assert page.evaluate("document.getElementById('email').getAttribute('aria-describedby')") == "email-error email-hint"
    audit("sign-in with an invalid address")
    field.fill("alice@secretariat.example")
    mark = site.signin_mark()
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert focused(page) == "result"
    audit("sign-in link sent")
    link = site.signin_link(after=mark)
    page.goto(link)
    audit("sign-in confirmation")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/dashboard")

    # The dashboard as the secretariat, before and after a form post.
    audit("dashboard (secretariat)")
    for ref in (first, second):
        # Inside a closed <details>: hidden until opened, named all the same.
        assert page.get_by_role("button", name=f"Withdraw {ref}", exact=True, include_hidden=True).count() == 1
    page.locator("summary", has_text=f"Refer to a meeting {second}").click()
    page.get_by_label(f"To which meeting or call {second} goes").fill("to the 4th Joint Committee")
    page.get_by_role("button", name=f"Refer to a meeting {second}", exact=True).click()
    page.wait_for_url(f"{url}/dashboard")
    assert focused(page) == "result" and "referred" in page.locator("#result").inner_text()
    audit("dashboard after a form post")
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(i => i.value = 'forged')")
    page.get_by_role("button", name=f"Distribute {draft.ref}", exact=True).click()
    page.get_by_role("heading", name="Form expired").wait_for()
    assert focused(page) == "result"
    audit("form expired (403)")
    page.goto(link)
    audit("used sign-in link (410)")

    # A co-chair's action links, from the escalation email.
    secret = app_secret(ctx.settings)
    act = action_url(url, secret, first, 1, "bat", "leave_open")
    page.goto(act)
    audit("co-chairs' action page")
    assert "Oyunchimeg Bold" in page.get_by_role("main").inner_text()
    page.get_by_role("button", name="Confirm: Leave it open (it can still pass by unanimity)").click()
    page.get_by_text("Done:").wait_for()
    assert focused(page) == "result"
    audit("co-chairs' action done")
    page.goto(act[:-4] + "xxxx")
    audit("co-chairs' action link not valid")

    # An expert's page, and their comment sent.
    page.goto(f"{url}/expert/{experts.page_token(ctx.settings, appointed.id)}")
    audit("expert page")
    page.get_by_label("Your comment on version 1").fill("The boundary needs a second look.")
    page.get_by_role("button", name="Send to the co-chairs").click()
    page.get_by_text("Your comment was sent to the co-chairs.").wait_for()
    assert focused(page) == "result"
    audit("expert page after a comment")

    # A plain member: their dashboard and the answer page, with a refusal.
    page.context.clear_cookies()
    sign_in(page, site, "sato@jc.example")
    audit("dashboard (member)")
    page.goto(f"{url}/answer/{first}")
    audit("answer page")
    page.get_by_role("button", name="Object").click()
    page.get_by_text("To object, write your opinion").wait_for()
    assert focused(page) == "opinion"
    audit("answer page with the opinion's error")

    # Error pages.
    for path, label, status in (("/no/such/page", "unknown path", 404), (f"/c/{SLUG}/decisions/MN-2099-999/", "no decision", 404),
                                (f"/documents/{'0' * 64}?t=forged", "document refused", 403)):
        assert page.goto(url + path).status == status, path
        audit(label)
    boom = error_page(500, "Something went wrong on our side.", "Something went wrong")
    page.route(f"{url}/boom", lambda route: route.fulfill(status=500, headers=dict(boom.headers), body=boom.body))
    assert page.goto(f"{url}/boom").status == 500
    audit("error page (500)")

    assert len(audit.checked) == 29, audit.checked  # every page above
    assert not audit.found, "axe-core found violations:\n" + audit.report()
