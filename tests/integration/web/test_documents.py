"""Downloads (signed links, sessions, the public record) and the publication of an adopted decision's documents.

Over ASGI on SQLite and PostgreSQL; the clock is the test's, so a link expires when the
test says. A confidential document must not leak: every public output is searched for
its name and its hash.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlmodel import select

from jcbot.downloads import download_url, member_recipient, secretariat_recipient
from jcbot.publish.static import PublishError, publish
from jcbot.publish.verify import verify_published
from jcbot.services import assertions, proposals
from jcbot.services.documents import Upload
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope
from jcbot.store.models import Member, Secretariat
from tests.integration.services.helpers import ITEMS, SECRETARIAT, T0, committee, tick
from tests.integration.web.conftest import BASE, add_secretariat, sign_in
from tests.support.documents import pdf

PUBLIC, CONFIDENTIAL = pdf(2, "MN015 PDD, public version"), pdf(3, "MN015 PDD, complete")
PUBLIC_NAME, CONFIDENTIAL_NAME = "MN015 PDD public.pdf", "MN015_PDD_confidential.pdf"
EVERYONE = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")
SLUG = "japan-mongolia"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def member(ctx, handle: str, slug: str = SLUG) -> Member:
    with session_scope(ctx.engine) as s:
        for m in s.exec(select(Member).where(Member.handle == handle)):
            s.expunge(m)
            if m.committee_id == _committee_id(s, slug):
                return m
    raise AssertionError(handle)


def _committee_id(s, slug: str) -> int:
    from jcbot.store.models import Committee

    return s.exec(select(Committee.id).where(Committee.slug == slug)).one()


@pytest.fixture
def ref(ctx) -> str:
    committee(ctx)
    p = proposals.draft(ctx, SLUG, "Registration of MN015", "The JC registers MN015.", ITEMS, SECRETARIAT,
                        uploads=[Upload(PUBLIC_NAME, PUBLIC), Upload(CONFIDENTIAL_NAME, CONFIDENTIAL, "confidential")])
    ctx.clock.set(T0)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    return p.ref


def link(ctx, data: bytes, recipient: str) -> str:
    return download_url(ctx.settings, sha(data), recipient, T0).removeprefix(BASE)


def downloads(ctx) -> list[dict]:
    with session_scope(ctx.engine) as s:
        return [json.loads(e.data) for e in s.exec(select(AuditEvent).where(AuditEvent.action == "document.downloaded")
                                                    .order_by(AuditEvent.id))]


def adopt(ctx, ref: str) -> None:
    for h in EVERYONE:
        tick(ctx.clock)
        assertions.record_assertion(ctx, ref, h, "affirmative", channel="web", evidence_key=f"{ref}:{h}",
                                    actor=SECRETARIAT)


def refused(response, status: int = 403) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert b"%PDF" not in response.content and "attachment" not in response.headers.get("content-disposition", "")
    return response.text


async def test_a_members_link_serves_the_verified_file_and_is_logged(ctx, client, ref):
    sato = member(ctx, "sato")
    got = await client.get(link(ctx, CONFIDENTIAL, member_recipient(sato.id)))
    assert got.status_code == 200 and got.content == CONFIDENTIAL
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith('attachment; filename="MN015_PDD_confidential.pdf"')
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "no-store" in got.headers["cache-control"]
    [logged] = downloads(ctx)
    assert logged == {"sha256": sha(CONFIDENTIAL), "name": CONFIDENTIAL_NAME, "visibility": "confidential",
                      "by": member_recipient(sato.id), "via": "link"}


async def test_forged_other_document_and_expired_links_are_refused(ctx, client, ref):
    sato = member(ctx, "sato")
    good = link(ctx, CONFIDENTIAL, member_recipient(sato.id))
    forged = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    assert "not valid" in refused(await client.get(forged))
    # A link for the public document does not open the confidential one.
    other = link(ctx, PUBLIC, member_recipient(sato.id)).replace(sha(PUBLIC), sha(CONFIDENTIAL))
    assert "not valid for this document" in refused(await client.get(other))
    ctx.clock.set(T0 + timedelta(days=30))
    assert "expired" in refused(await client.get(good))
    assert downloads(ctx) == []


async def test_outsiders_are_refused_even_with_a_valid_link(ctx, client, ref):
    committee(ctx, slug="japan-kenya", rules="default", japan=("ito", "kato"), host=("otieno", "wanjiru"),
              cochairs=("ito", "otieno"), alternates=())
    outsider = member(ctx, "ito", "japan-kenya")
    text = refused(await client.get(link(ctx, CONFIDENTIAL, member_recipient(outsider.id))))
    assert "may not read this document" in text
    assert "sign in" in text
    # Nor without any link, nor with a link made for someone who does not exist.
    refused(await client.get(f"/documents/{sha(CONFIDENTIAL)}"))
    refused(await client.get(link(ctx, CONFIDENTIAL, secretariat_recipient(999))))
    refused(await client.get(f"/documents/{'0' * 64}"), 404)
    refused(await client.get("/documents/not-a-hash"), 404)


async def test_secretariat_by_link_and_signed_in_members_without_one(ctx, client, engine, ref):
    add_secretariat(engine, "Alice", "alice@secretariat.example")
    with session_scope(engine) as s:
        alice = s.exec(select(Secretariat)).one().id
    got = await client.get(link(ctx, CONFIDENTIAL, secretariat_recipient(alice)))
    assert got.status_code == 200 and got.content == CONFIDENTIAL
    await sign_in(client, engine, "sato@japan-mongolia.example")
    got = await client.get(f"/documents/{sha(CONFIDENTIAL)}")
    assert got.status_code == 200 and got.content == CONFIDENTIAL
    assert [d["via"] for d in downloads(ctx)] == ["link", "session"]
    assert downloads(ctx)[1]["by"] == "session:sato@japan-mongolia.example"


async def test_published_documents_are_public_and_confidential_ones_never(ctx, client, ref, tmp_path):
    # Before adoption, nothing is public.
    refused(await client.get(f"/documents/{sha(PUBLIC)}"))
    adopt(ctx, ref)
    page = await client.get(f"/c/{SLUG}/decisions/MN-2026-001/")
    assert PUBLIC_NAME in page.text and sha(PUBLIC) in page.text
    href = re.search(r'href="(documents/[^"]+)"', page.text).group(1)
    got = await client.get(f"/c/{SLUG}/decisions/MN-2026-001/{href}")
    assert got.status_code == 200 and got.content == PUBLIC and got.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"/documents/{sha(PUBLIC)}")).content == PUBLIC  # adopted and public: anyone
    assert downloads(ctx) == []  # public downloads are log lines, not audit events
    refused(await client.get(f"/documents/{sha(CONFIDENTIAL)}"))
    refused(await client.get(f"/c/{SLUG}/decisions/MN-2026-001/documents/{CONFIDENTIAL_NAME}"), 404)
    feed = await client.get(f"/c/{SLUG}/feed.atom")
    [enclosure] = [e for e in ElementTree.fromstring(feed.text).iter("{http://www.w3.org/2005/Atom}link")
                   if e.get("rel") == "enclosure"]
    assert enclosure.get("length") == str(len(PUBLIC)) and enclosure.get("type") == "application/pdf"
    assert enclosure.get("href").endswith("/documents/MN015%20PDD%20public.pdf")
    export = (await client.get(f"/c/{SLUG}/decisions.json")).json()
    [doc] = export["decisions"][0]["documents"]
    assert (doc["name"], doc["sha256"], doc["size"]) == (PUBLIC_NAME, sha(PUBLIC), len(PUBLIC))
    # The adoption event binds the public hashes only.
    with session_scope(ctx.engine) as s:
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "proposal.adopted")).one()
    assert json.loads(ev.data)["documents"] == [sha(PUBLIC)]
    # Nowhere public: not on any live page, feed or JSON, nor in the static copy.
    out = tmp_path / "site"
    publish(ctx, out, BASE)
    live = [page.text, feed.text, json.dumps(export), (await client.get(f"/c/{SLUG}/")).text, (await client.get("/")).text]
    static = [p.read_bytes() for p in out.rglob("*") if p.is_file()]
    for needle in (CONFIDENTIAL_NAME, sha(CONFIDENTIAL), "confidential"):
        assert not any(needle in text for text in live), needle
        assert not any(needle.encode() in body for body in static), needle
    assert CONFIDENTIAL not in static


def check(ctx, out: Path):
    with session_scope(ctx.engine) as s:
        return verify_published(s, out)


def test_static_copy_holds_the_verified_files_and_tampering_is_named(ctx, ref, tmp_path):
    adopt(ctx, ref)
    out = tmp_path / "site"
    publish(ctx, out, BASE)
    copied = out / f"c/{SLUG}/decisions/MN-2026-001/documents" / PUBLIC_NAME
    assert copied.read_bytes() == PUBLIC
    assert sorted(p.name for p in copied.parent.iterdir()) == [PUBLIC_NAME]
    report = check(ctx, out)
    assert report.ok, report.problems
    copied.write_bytes(PUBLIC[:-10] + b"%%EOF\n\n\n\n\n")
    report = check(ctx, out)
    assert not report.ok
    assert any(PUBLIC_NAME in p and "altered" in p for p in report.problems), report.problems
    copied.unlink()
    assert any("missing" in p for p in check(ctx, out).problems)
    copied.write_bytes(PUBLIC)
    (copied.parent / CONFIDENTIAL_NAME).write_bytes(CONFIDENTIAL)  # a file slipped into the copy
    assert any(CONFIDENTIAL_NAME in p and "does not publish" in p for p in check(ctx, out).problems)


def test_a_damaged_stored_document_stops_the_publication(ctx, ref, tmp_path):
    adopt(ctx, ref)
    stored = next(p for p in (tmp_path / "storage" / "documents").rglob(sha(PUBLIC)))
    stored.chmod(0o644)
    stored.write_bytes(b"%PDF-1.4 not the adopted bytes")
    with pytest.raises(PublishError, match=PUBLIC_NAME):
        publish(ctx, tmp_path / "site", BASE)
