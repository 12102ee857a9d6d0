"""/dashboard drafts: the secretariat drafts a proposal, uploads its documents, and distributes it."""
from __future__ import annotations

import re

from jcbot.services import queries
from jcbot.store.models import Committee
from tests.integration.services.helpers import committee, counts, outbox_rows
from tests.support.documents import pdf

from .conftest import add_secretariat, csrf_of, sign_in


def drafted(html: str, ref: str) -> str:
    m = re.search(rf'<article class="proposal draft"[^>]*data-draft="{re.escape(ref)}">(.*?)</article>', html, re.S)
    assert m, f"no draft card for {ref}"
    return m.group(1)


async def secretariat(ctx, client, engine) -> str:
    committee(ctx)
    with ctx.read() as tx:
        cid = tx.session.exec(__import__("sqlmodel").select(Committee.id)).first()
    add_secretariat(engine, "Secretariat", "sec@jc.example", cid)
    await sign_in(client, engine, "sec@jc.example")
    return csrf_of((await client.get("/dashboard")).text)


async def test_draft_upload_public_and_confidential_then_distribute(ctx, client, engine):
    csrf = await secretariat(ctx, client, engine)
    made = await client.post("/dashboard/committees/japan-mongolia/drafts", data={
        "csrf": csrf, "title": "Approve MN_PM012", "text": "The JC approves MN_PM012.",
        "item_kind": "methodology_approval", "item_title": "Boilers"})
    assert made.status_code == 303
    page = (await client.get("/dashboard")).text
    ref = re.search(r"(MN-P-\d{4}-\d{3}) drafted: attach its documents", page).group(1)
    assert "No document yet." in drafted(page, ref)

    public, secret = pdf(2, "public version"), pdf(3, "complete version")
    for name, data, vis in (("MN_PM012.pdf", public, "public"), ("MN_PM012-full.pdf", secret, "confidential")):
        up = await client.post(f"/dashboard/proposals/{ref}/documents", data={"csrf": csrf, "visibility": vis},
                               files={"file": (name, data, "application/pdf")})
        assert up.status_code == 303
        assert f"{name} attached to {ref} ({vis}, SHA-256" in (await client.get("/dashboard")).text
    card = drafted((await client.get("/dashboard")).text, ref)
    assert "MN_PM012.pdf (2 pages)" in card and "MN_PM012-full.pdf (3 pages)" in card
    assert "confidential" in card and "public" in card

    done = await client.post(f"/dashboard/proposals/{ref}/distribute", data={"csrf": csrf})
    assert done.status_code == 303
    after = (await client.get("/dashboard")).text
    assert f"{ref} version 1 distributed to every member" in after and f'data-draft="{ref}"' not in after
    view = queries.show(ctx, ref)
    assert view.version.distributed_at is not None
    assert sorted((d.name, d.visibility) for d in view.documents) == [("MN_PM012-full.pdf", "confidential"),
                                                                     ("MN_PM012.pdf", "public")]
    assert len(outbox_rows(engine, "distribution")) == 6

    # Frozen once distributed: a late upload is refused and changes nothing.
    before = counts(engine)
    late = await client.post(f"/dashboard/proposals/{ref}/documents", data={"csrf": csrf, "visibility": "public"},
                             files={"file": ("late.pdf", pdf(1, "late"), "application/pdf")})
    assert late.status_code == 303
    assert "its documents are frozen" in (await client.get("/dashboard")).text
    assert counts(engine) == before


async def test_refused_uploads_change_nothing(ctx, client, engine):
    csrf = await secretariat(ctx, client, engine)
    await client.post("/dashboard/committees/japan-mongolia/drafts", data={
        "csrf": csrf, "title": "T", "text": "Text.", "item_kind": "other", "item_title": "X"})
    ref = re.search(r"(MN-P-\d{4}-\d{3}) drafted", (await client.get("/dashboard")).text).group(1)
    before = counts(engine)
    cases = [
        ({"csrf": csrf, "visibility": "public"}, {"file": ("tool.exe", b"MZ\x90\x00" + b"\x00" * 100, "application/octet-stream")}),
        ({"csrf": csrf, "visibility": "secret"}, {"file": ("a.pdf", pdf(1, "a"), "application/pdf")}),
        ({"csrf": csrf, "visibility": "public"}, {"file": ("fake.pdf", b"not a pdf at all", "application/pdf")}),
    ]
    for data, files in cases:
        r = await client.post(f"/dashboard/proposals/{ref}/documents", data=data, files=files)
        assert r.status_code == 303
        page = (await client.get("/dashboard")).text
        assert re.search(r'class="notice error" id="result" role="alert"[^>]*>[^<]*Nothing was changed\.', page), page[:2000]
    forged = await client.post(f"/dashboard/proposals/{ref}/documents", data={"csrf": "f" * 64, "visibility": "public"},
                               files={"file": ("a.pdf", pdf(1, "a"), "application/pdf")})
    assert forged.status_code == 403
    assert counts(engine) == before


async def test_a_member_cannot_draft_or_upload(ctx, client, engine):
    committee(ctx)
    await sign_in(client, engine, "suzuki@japan-mongolia.example")  # a plain member
    page = (await client.get("/dashboard")).text
    assert "New draft" not in page
    csrf = csrf_of(page)
    before = counts(engine)
    r = await client.post("/dashboard/committees/japan-mongolia/drafts", data={
        "csrf": csrf, "title": "T", "text": "Text.", "item_kind": "other", "item_title": "X"})
    assert r.status_code == 403 and "nothing was changed" in r.text
    assert counts(engine) == before


async def test_the_secretariat_appoints_an_expert_to_a_draft_and_refusals_change_nothing(ctx, client, engine):
    from jcbot.services import experts

    csrf = await secretariat(ctx, client, engine)
    await client.post("/dashboard/committees/japan-mongolia/drafts", data={
        "csrf": csrf, "title": "T", "text": "Text.", "item_kind": "other", "item_title": "X"})
    ref = re.search(r"(MN-P-\d{4}-\d{3}) drafted", (await client.get("/dashboard")).text).group(1)
    done = await client.post(f"/dashboard/proposals/{ref}/experts", data={
        "csrf": csrf, "name": "Dr. Enkh", "email": "enkh@panel.example", "panel": "Methodologies Panel"})
    assert done.status_code == 303
    page = (await client.get("/dashboard")).text
    assert f"Dr. Enkh appointed as an expert to {ref}" in page
    assert "Dr. Enkh (enkh@panel.example), Methodologies Panel" in drafted(page, ref)
    assert [a.email for a in experts.of_proposal(ctx, ref)] == ["enkh@panel.example"]
    before = counts(engine)
    again = await client.post(f"/dashboard/proposals/{ref}/experts", data={
        "csrf": csrf, "name": "Dr. Enkh", "email": "enkh@panel.example"})
    assert again.status_code == 303
    assert "already appointed" in (await client.get("/dashboard")).text
    member = await client.post(f"/dashboard/proposals/{ref}/experts", data={
        "csrf": csrf, "name": "Suzuki", "email": "suzuki@japan-mongolia.example"})
    assert member.status_code == 303
    assert "a member asserts, an expert only comments" in (await client.get("/dashboard")).text
    forged = await client.post(f"/dashboard/proposals/{ref}/experts", data={
        "csrf": "f" * 64, "name": "X", "email": "x@panel.example"})
    assert forged.status_code == 403
    assert counts(engine) == before and len(experts.of_proposal(ctx, ref)) == 1
