"""/dashboard cases: the secretariat sees every case and records the check, adds documents and drafts the proposal."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import text
from sqlmodel import select

from jcbot.services import board, cases
from jcbot.services.documents import Upload
from jcbot.store.db import session_scope
from jcbot.store.models import Committee
from tests.integration.services.helpers import SECRETARIAT, committee, counts, tick
from tests.support.documents import pdf

from .conftest import add_secretariat, csrf_of, sign_in

SLUG = "japan-mongolia"
# The result of a form post, which takes the focus when the dashboard loads (templates/site/_result.html).
ALERT = re.compile(r'class="notice error" id="result" role="alert" tabindex="-1" autofocus data-result>([^<]*)</div>')
STATUS = re.compile(r'class="notice" id="result" role="status" tabindex="-1" autofocus data-result>([^<]*)</div>')


def everything(engine) -> dict[str, int]:
    """The domain tables, audit and outbox, and the cycle's own tables ("case" is reserved in PostgreSQL)."""
    with session_scope(engine) as s:
        extra = {t: s.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one()
                 for t in ("case", "case_event", "case_document", "document", "proposal_document")}
    return counts(engine) | extra


def card(html: str, ref: str) -> str:
    m = re.search(rf'<article class="case"[^>]*data-case="{re.escape(ref)}">(.*?)</article>', html, re.S)
    assert m, f"no case card for {ref}"
    return m.group(1)


def alert(html: str) -> str:
    m = ALERT.search(html)
    assert m, "no error message"
    return m.group(1)


def status(html: str) -> str:
    m = STATUS.search(html)
    assert m, "no status message"
    return m.group(1)


def submit(ctx, title: str):
    public = Upload(f"{title}.pdf", pdf(2, f"{title} public"), "public")
    full = Upload(f"{title}-full.pdf", pdf(3, f"{title} complete"), "confidential")
    return cases.submit(ctx, SLUG, "methodology", title, "pp@proponent.example", [public, full], SECRETARIAT)


async def as_secretariat(ctx, client, engine) -> str:
    committee(ctx)
    with ctx.read() as tx:
        cid = tx.session.exec(select(Committee.id)).first()
    add_secretariat(engine, "Secretariat", "sec@jc.example", cid)
    await sign_in(client, engine, "sec@jc.example")
    return csrf_of((await client.get("/dashboard")).text)


async def test_every_case_with_its_state_number_window_duty_and_documents(ctx, client, engine):
    csrf = await as_secretariat(ctx, client, engine)
    case = submit(ctx, "Transformers")
    info = cases.show(ctx, case.ref)
    ends = info.view.windows["completeness_check"].end
    page = (await client.get("/dashboard")).text
    assert "Cases (1)" in page
    k = card(page, case.ref)
    assert "Transformers" in k and "methodology" in k and "submitted" in k and "MN_PM001" in k
    assert f"ends {board.when(ends, 'Asia/Ulaanbaatar')}" in k
    assert hashlib.sha256(pdf(2, "Transformers public")).hexdigest() in k
    assert re.search(r"Transformers-full\.pdf</td><td>confidential", k) and "Completeness check of" in k
    assert "<legend>Completeness check of" in k and 'role="alert"' not in page

    # Nine days on the check is overdue: the case says so (the committee's duties list it too).
    ctx.clock.advance(timedelta(days=9))
    await sign_in(client, engine, "sec@jc.example")  # the sign-in of nine days ago has expired
    k = card((await client.get("/dashboard")).text, case.ref)
    assert "the completeness check is overdue" in k and "Completeness check of" in k
    assert csrf


async def test_a_cochair_sees_the_windows_in_their_own_time_zone(ctx, client, engine):
    committee(ctx)
    case = submit(ctx, "Boilers")
    await sign_in(client, engine, "tanaka@japan-mongolia.example")  # the Japanese co-chair, in Asia/Tokyo
    ends = cases.show(ctx, case.ref).view.windows["completeness_check"].end
    k = card((await client.get("/dashboard")).text, case.ref)
    assert f"ends {board.when(ends, 'Asia/Tokyo')}" in k


async def test_the_check_refuses_without_a_reason_then_moves_the_case_on(ctx, client, engine):
    csrf = await as_secretariat(ctx, client, engine)
    case = submit(ctx, "Transformers")
    before = everything(engine)
    for data, why in (({"csrf": csrf, "result": "incomplete", "reason": "  "}, "an incomplete check needs its reason"),
                      ({"csrf": csrf, "result": "maybe"}, "complete or incomplete")):
        r = await client.post(f"/dashboard/cases/{case.ref}/check", data=data)
        assert r.status_code == 303
        said = alert((await client.get("/dashboard")).text)
        assert why in said and said.endswith("Nothing was changed."), said
    forged = await client.post(f"/dashboard/cases/{case.ref}/check", data={"csrf": "f" * 64, "result": "complete"})
    assert forged.status_code == 403 and "nothing was changed" in forged.text
    unknown = await client.post("/dashboard/cases/MN-C-2026-999/check", data={"csrf": csrf, "result": "complete"})
    assert unknown.status_code == 303 and "no case" in alert((await client.get("/dashboard")).text)
    assert everything(engine) == before

    tick(ctx.clock, 60)
    done = await client.post(f"/dashboard/cases/{case.ref}/check", data={"csrf": csrf, "result": "complete"})
    assert done.status_code == 303
    page = (await client.get("/dashboard")).text
    assert status(page) == f"{case.ref} found complete: it is now public inputs; the proponent is told."
    k = card(page, case.ref)
    assert "public inputs" in k and "Window: public inputs" in k and "Completeness check of" not in k
    assert cases.show(ctx, case.ref).view.state == "public_inputs"

    # Not allowed in that state: said, and nothing changes.
    before = everything(engine)
    again = await client.post(f"/dashboard/cases/{case.ref}/check", data={"csrf": csrf, "result": "complete"})
    assert again.status_code == 303
    assert "check refused" in alert((await client.get("/dashboard")).text)
    assert everything(engine) == before


async def test_an_incomplete_check_returns_the_case_with_its_reason(ctx, client, engine):
    csrf = await as_secretariat(ctx, client, engine)
    case = submit(ctx, "Transformers")
    r = await client.post(f"/dashboard/cases/{case.ref}/check",
                          data={"csrf": csrf, "result": "incomplete", "reason": "The annex on baselines is missing."})
    assert r.status_code == 303
    assert "found incomplete: it is now returned" in status((await client.get("/dashboard")).text)
    info = cases.show(ctx, case.ref)
    assert info.view.state == "returned" and info.events[-1].data["reason"] == "The annex on baselines is missing."


async def test_documents_added_to_a_case_and_refusals(ctx, client, engine):
    csrf = await as_secretariat(ctx, client, engine)
    case = submit(ctx, "Transformers")
    annex = pdf(1, "annex")
    up = await client.post(f"/dashboard/cases/{case.ref}/documents", data={"csrf": csrf, "visibility": "confidential"},
                           files={"file": ("annex.pdf", annex, "application/pdf")})
    assert up.status_code == 303
    page = (await client.get("/dashboard")).text
    sha = hashlib.sha256(annex).hexdigest()
    assert status(page) == f"annex.pdf added to {case.ref} (confidential, SHA-256 {sha})."
    assert re.search(rf"annex\.pdf</td><td>confidential</td><td><code class=\"hash\">{sha}", card(page, case.ref))
    assert [(cd.name, d.visibility) for cd, d in cases.show(ctx, case.ref).documents][-1] == ("annex.pdf", "confidential")

    before = everything(engine)
    refused = [
        ({"csrf": csrf, "visibility": "public"}, {"file": ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/x")}),
        ({"csrf": csrf, "visibility": "secret"}, {"file": ("b.pdf", pdf(1, "b"), "application/pdf")}),
        ({"csrf": csrf, "visibility": "public"}, {"file": ("fake.pdf", b"not a pdf at all", "application/pdf")}),
        ({"csrf": csrf, "visibility": "public"}, {"file": ("annex.pdf", pdf(1, "another annex"), "application/pdf")}),
    ]
    for data, files in refused:
        r = await client.post(f"/dashboard/cases/{case.ref}/documents", data=data, files=files)
        assert r.status_code == 303
        assert alert((await client.get("/dashboard")).text).endswith("Nothing was changed.")
    forged = await client.post(f"/dashboard/cases/{case.ref}/documents", data={"csrf": "f" * 64, "visibility": "public"},
                               files={"file": ("b.pdf", pdf(1, "b"), "application/pdf")})
    assert forged.status_code == 403
    assert everything(engine) == before


async def test_drafting_one_proposal_for_two_cases_puts_it_under_drafts(ctx, client, engine):
    csrf = await as_secretariat(ctx, client, engine)
    first, second = submit(ctx, "Transformers"), submit(ctx, "Boilers")
    tick(ctx.clock, 60)
    for c in (first, second):
        cases.check(ctx, c.ref, True, None, SECRETARIAT)
    page = (await client.get("/dashboard")).text
    assert "Cases awaiting a JC proposal" not in page  # nothing awaits a proposal while inputs are open

    ctx.clock.advance(timedelta(days=17))  # the 15-day window for public inputs has closed
    await sign_in(client, engine, "sec@jc.example")  # the sign-in of 17 days ago has expired
    page = (await client.get("/dashboard")).text
    csrf = csrf_of(page)
    assert "awaits the JC&#39;s decision and no proposal carries it" in card(page, first.ref)
    assert "<legend>Cases awaiting a JC proposal</legend>" in page

    before = everything(engine)
    for data in ({"csrf": csrf, "outcome": "approve"},  # no case ticked
                 {"csrf": csrf, "case": [first.ref], "outcome": "maybe"}):
        r = await client.post(f"/dashboard/committees/{SLUG}/cases/propose", data=data)
        assert r.status_code == 303
        assert alert((await client.get("/dashboard")).text).endswith("Nothing was changed.")
    forged = await client.post(f"/dashboard/committees/{SLUG}/cases/propose",
                               data={"csrf": "f" * 64, "case": [first.ref], "outcome": "approve"})
    assert forged.status_code == 403
    assert everything(engine) == before

    r = await client.post(f"/dashboard/committees/{SLUG}/cases/propose",
                          data={"csrf": csrf, "case": [first.ref, second.ref], "outcome": "approve"})
    assert r.status_code == 303
    page = (await client.get("/dashboard")).text
    said = status(page)
    ref = re.match(r"(MN-P-\d{4}-\d{3}) drafted for ", said).group(1)
    assert f"drafted for {first.ref}, {second.ref} (approve): it is under Drafts" in said
    draft = re.search(rf'data-draft="{ref}">(.*?)</article>', page, re.S).group(1)
    assert "Transformers" in draft and "Boilers" in draft
    assert f"{first.ref}-Transformers-full.pdf" in draft and f"{second.ref}-Boilers.pdf" in draft
    assert f"carried by {ref}" in card(page, first.ref)
    assert "Cases awaiting a JC proposal" not in page  # both are carried now
    # The duty lasts until a proposal carrying it is distributed (core.duties.awaits_proposal).
    assert "no proposal carries it" in card(page, first.ref)

    # A case already carried: the second draft is refused, and it cannot take documents any more.
    before = everything(engine)
    again = await client.post(f"/dashboard/committees/{SLUG}/cases/propose",
                              data={"csrf": csrf, "case": [first.ref], "outcome": "reject"})
    assert again.status_code == 303
    assert f"is already carried by {ref}" in alert((await client.get("/dashboard")).text)
    up = await client.post(f"/dashboard/cases/{first.ref}/documents", data={"csrf": csrf, "visibility": "public"},
                           files={"file": ("late.pdf", pdf(1, "late"), "application/pdf")})
    assert up.status_code == 303
    assert f"is carried by {ref} (draft)" in alert((await client.get("/dashboard")).text)
    assert everything(engine) == before


async def test_a_member_sees_no_cases_and_cannot_act_on_them(ctx, client, engine):
    committee(ctx)
    case = submit(ctx, "Transformers")
    await sign_in(client, engine, "suzuki@japan-mongolia.example")  # a plain member
    page = (await client.get("/dashboard")).text
    assert case.ref not in page and "Cases (" not in page
    csrf = csrf_of(page)
    before = everything(engine)
    posts = [
        (f"/dashboard/cases/{case.ref}/check", {"data": {"csrf": csrf, "result": "complete"}}),
        (f"/dashboard/cases/{case.ref}/documents", {"data": {"csrf": csrf, "visibility": "public"},
                                                    "files": {"file": ("a.pdf", pdf(1, "a"), "application/pdf")}}),
        (f"/dashboard/committees/{SLUG}/cases/propose", {"data": {"csrf": csrf, "case": [case.ref],
                                                                  "outcome": "approve"}}),
    ]
    for path, kwargs in posts:
        r = await client.post(path, **kwargs)
        assert r.status_code == 403 and "Only the co-chairs, their alternates and the secretariat" in r.text, path
    assert everything(engine) == before
