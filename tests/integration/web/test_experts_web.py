"""An appointed expert on the web: the brief's links, the expert's page, downloads (confidential ones too), comments.

Over ASGI on SQLite and PostgreSQL. The expert receives links made for them; they stop
working when the appointment is revoked; an outsider's or a forged page shows nothing.
"""
from __future__ import annotations

import hashlib
import re
from email import message_from_string, policy

from jcbot.channels.email.compose import EmailRenderer
from jcbot.services import experts, proposals
from jcbot.services.documents import Upload
from tests.integration.services.helpers import ITEMS, SECRETARIAT, T0, committee, outbox, outbox_rows, tick
from tests.integration.web.conftest import BASE, csrf_of
from tests.support.documents import pdf

PUBLIC, CONFIDENTIAL = pdf(2, "PDD public"), pdf(3, "PDD complete")


def appointed(ctx) -> tuple[str, str]:
    """A distributed proposal with a public and a confidential document, and an expert's page path."""
    committee(ctx)
    p = proposals.draft(ctx, "japan-mongolia", "Registration of MN015", "The JC registers MN015.", ITEMS, SECRETARIAT,
                        uploads=[Upload("pdd-public.pdf", PUBLIC), Upload("pdd-full.pdf", CONFIDENTIAL, "confidential")])
    ctx.clock.set(T0)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    a = experts.appoint(ctx, p.ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT, panel="Methodologies Panel")
    return p.ref, f"/expert/{experts.page_token(ctx.settings, a.id)}"


async def test_the_brief_links_and_page_give_the_expert_every_document(ctx, client, engine):
    ref, path = appointed(ctx)
    (row,) = outbox_rows(engine, "expert_brief")
    text = EmailRenderer(ctx.settings, strict=True).for_outbox(row)["message"]
    msg = message_from_string(text, policy=policy.default)
    body = msg.get_body(("plain",)).get_content()
    assert not list(msg.iter_attachments())  # links only: an expert's copy can be refused later, an attachment not
    assert hashlib.sha256(CONFIDENTIAL).hexdigest() in body and f"{BASE}{path}" in body
    links = re.findall(rf"{re.escape(BASE)}(/documents/[0-9a-f]{{64}}\?t=\S+)", body)
    assert len(links) == 2
    for link in links:
        got = await client.get(link)
        assert got.status_code == 200 and got.content in (PUBLIC, CONFIDENTIAL)

    page = await client.get(path)
    assert page.status_code == 200 and ref in page.text and "pdd-full.pdf" in page.text
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    assert "Affirm" not in page.text and "Object" not in page.text  # an expert never asserts

    # Revoked: the page and every link made for the expert stop working.
    experts.revoke(ctx, ref, "enkh@panel.example", SECRETARIAT)
    assert (await client.get(path)).status_code == 403
    for link in links:
        assert (await client.get(link)).status_code == 403


async def test_a_comment_from_the_page_reaches_the_cochairs(ctx, client, engine):
    ref, path = appointed(ctx)
    page = (await client.get(path)).text
    tick(ctx.clock)
    empty = await client.post(path, data={"csrf": csrf_of(page), "text": "  "})
    assert empty.status_code == 422 and "write your comment first" in empty.text and 'aria-invalid="true"' in empty.text
    sent = await client.post(path, data={"csrf": csrf_of(page), "text": "Section 4 <b>underestimates</b> leakage."})
    assert sent.status_code == 303
    after = (await client.get(path)).text
    assert "Your comment was sent to the co-chairs." in after
    assert "Section 4 &lt;b&gt;underestimates&lt;/b&gt; leakage." in after  # escaped
    assert {m.address for m in outbox(engine, "expert_comment")} == {
        "tanaka@japan-mongolia.example", "bat@japan-mongolia.example", "sato@japan-mongolia.example",
        "dorj@japan-mongolia.example"}
    forged = await client.post(path, data={"csrf": "f" * 64, "text": "Forged."})
    assert forged.status_code == 403
    assert len(outbox(engine, "expert_comment")) == 4


async def test_forged_expert_links_show_nothing(ctx, client, engine):
    ref, path = appointed(ctx)
    bad = await client.get(path[:-3] + "xyz")
    assert bad.status_code == 403 and ref not in bad.text and "pdd-full.pdf" not in bad.text
