"""The project cycle's public record, live and in `jcbot publish`'s copy: what is shown, and what never is."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from xml.etree import ElementTree

from jcbot.publish.static import publish
from jcbot.publish.verify import verify_published
from jcbot.services import cases, proposals, public_inputs
from jcbot.services.assertions import record_assertion
from jcbot.services.documents import Upload
from jcbot.services.roster import add_secretariat
from jcbot.store.db import session_scope
from support.documents import pdf
from tests.integration.services.helpers import SECRETARIAT, committee, outbox, tick

from .conftest import BASE

SLUG = "japan-mongolia"
MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")
SECRET = pdf(text="confidential full version with the plant's costs")
SECRET_SHA = hashlib.sha256(SECRET).hexdigest()
PUBLIC = pdf(text="public version, costs made illegible")
PUBLIC_SHA = hashlib.sha256(PUBLIC).hexdigest()


def _record(ctx, engine):
    """An approved methodology with a counted input, and a second one still open for inputs."""
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
    a = cases.submit(ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example",
                     [Upload("transformers-public.pdf", PUBLIC, "public"),
                      Upload("transformers-secret-costs.pdf", SECRET, "confidential")], SECRETARIAT)
    tick(ctx.clock, 60)
    cases.check(ctx, a.ref, True, None, SECRETARIAT)
    tick(ctx.clock)
    sent = public_inputs.submit(ctx, a.ref, "Ana Ruiz", "Green Institute", "The baseline is too high.",
                                "ana.private@example.org", "203.0.113.0/24")
    link = [n for n in outbox(engine, "public_input")][-1].payload["data"]["link"]
    tick(ctx.clock)
    assert public_inputs.confirm(ctx, link.rsplit("/", 1)[1]).counted
    ctx.clock.advance(timedelta(days=16))
    p = cases.propose(ctx, [a.ref], SECRETARIAT)
    tick(ctx.clock)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    for m in MEMBERS:
        tick(ctx.clock)
        record_assertion(ctx, p.ref, m, "affirmative", channel="slack", evidence_key=f"{p.ref}:{m}", actor="slack")
    b = cases.submit(ctx, SLUG, "methodology", "Efficient boilers", "pp@proponent.example", [], SECRETARIAT)
    tick(ctx.clock)
    cases.check(ctx, b.ref, True, None, SECRETARIAT)
    tick(ctx.clock)
    assert cases.show(ctx, a.ref).view.number == "MN_AM001"
    return a, b, sent


def _never_there(body: str, where: str) -> None:
    for secret in ("transformers-secret-costs", SECRET_SHA, "ana.private@example.org", "pp@proponent.example"):
        assert secret not in body, f"{secret} in {where}"


async def test_the_live_cycle_record_and_case_pages(ctx, client, engine):
    a, b, _ = _record(ctx, engine)
    record = await client.get(f"/c/{SLUG}/cases/")
    assert record.status_code == 200
    body = record.text
    approved = body[body.index('data-field="methodologies"'):]
    assert "MN_AM001" in approved and "Energy-efficient transformers" in approved
    calls = body[body.index('data-field="open_calls"'):body.index('id="methodologies-h"')]
    assert b.ref in calls and "Asia/Ulaanbaatar" in calls and a.ref not in calls
    page = (await client.get(f"/c/{SLUG}/cases/{a.ref}/")).text
    assert 'data-state="approved"' in page and "MN_PM001, MN_AM001" in page
    assert PUBLIC_SHA in page and "transformers-public.pdf" in page
    assert "Ana Ruiz" in page and "Green Institute" in page and "The baseline is too high." in page
    assert 'data-field="decision" data-number="MN-2026-001"' in page and "Send my input" not in page
    assert "Send my input" in (await client.get(f"/c/{SLUG}/cases/{b.ref}/")).text
    export = (await client.get(f"/c/{SLUG}/cases.json")).json()
    assert export["approved_methodologies"] == [a.ref] and export["open_calls"] == [b.ref]
    [case_a] = [c for c in export["cases"] if c["ref"] == a.ref]
    assert case_a["url"] == f"{BASE}/c/{SLUG}/cases/{a.ref}/"
    assert [d["sha256"] for d in case_a["documents"]] == [PUBLIC_SHA]
    assert [i["name"] for i in case_a["public_inputs"]] == ["Ana Ruiz"]
    assert [d["number"] for d in case_a["decisions"]] == ["MN-2026-001"]
    assert "cases/" in (await client.get(f"/c/{SLUG}/")).text
    # Nothing public anywhere shows the confidential document, an input's address or the proponent's.
    for path in ("/", f"/c/{SLUG}/", f"/c/{SLUG}/cases/", f"/c/{SLUG}/cases/{a.ref}/", f"/c/{SLUG}/cases/{b.ref}/",
                 f"/c/{SLUG}/cases.json", f"/c/{SLUG}/decisions.json", f"/c/{SLUG}/feed.atom",
                 f"/c/{SLUG}/decisions/MN-2026-001/"):
        response = await client.get(path)
        assert response.status_code == 200, path
        _never_there(response.text, path)


def test_the_static_copy_has_the_cycle_and_never_a_confidential_document(ctx, engine, tmp_path):
    a, b, _ = _record(ctx, engine)
    out = tmp_path / "site"
    publish(ctx, out, "https://jc.example/record/")
    base = out / "c" / SLUG
    page = (base / "cases" / a.ref / "index.html").read_text()
    assert PUBLIC_SHA in page and "Ana Ruiz" in page and "MN_AM001" in page
    open_page = (base / "cases" / b.ref / "index.html").read_text()
    assert "<form" not in open_page and f"https://jc.example/record/c/{SLUG}/cases/{b.ref}/" in open_page
    assert 'href="../../../../static/site.css"' in open_page
    data = json.loads((base / "cases.json").read_text())
    assert data["approved_methodologies"] == [a.ref] and data["open_calls"] == [b.ref]
    assert "MN_AM001" in (base / "cases" / "index.html").read_text()
    for path in out.rglob("*"):
        if path.is_file():
            _never_there(path.read_bytes().decode("utf-8", "replace"), str(path.relative_to(out)))
            assert hashlib.sha256(path.read_bytes()).hexdigest() != SECRET_SHA
    with session_scope(engine) as s:
        assert verify_published(s, out).ok


ATOM = "{http://www.w3.org/2005/Atom}"


def _feed_entries(body: str, base: str) -> dict[str, list[dict]]:
    """The cycle feed's entries by case reference (newest first), checked as Atom on the way."""
    root = ElementTree.fromstring(body)
    assert root.tag == f"{ATOM}feed"
    assert root.find(f"{ATOM}link[@rel='self']").get("href") == f"{base}/c/{SLUG}/cases/feed.atom"
    entries: dict[str, list[dict]] = {}
    instants = []
    for e in root.findall(f"{ATOM}entry"):
        href = e.find(f"{ATOM}link[@rel='alternate']").get("href")
        ref = href.rstrip("/").rsplit("/", 1)[1]
        assert href == f"{base}/c/{SLUG}/cases/{ref}/"
        updated = datetime.fromisoformat(e.findtext(f"{ATOM}updated").replace("Z", "+00:00"))
        instants.append(updated)
        entries.setdefault(ref, []).append({"id": e.findtext(f"{ATOM}id"), "title": e.findtext(f"{ATOM}title"),
                                            "state": e.find(f"{ATOM}category").get("term"), "updated": updated,
                                            "summary": e.findtext(f"{ATOM}summary")})
    assert instants == sorted(instants, reverse=True)
    assert root.findtext(f"{ATOM}updated") is not None
    return entries


def _check_feed(entries: dict[str, list[dict]], a, b) -> None:
    states = [e["state"] for e in entries[a.ref]]
    assert states == ["approved", "awaiting_decision", "public_inputs", "submitted"]
    approved = entries[a.ref][0]
    assert "MN_AM001" in approved["title"] and "decision MN-2026-001" in approved["summary"]
    call = entries[a.ref][2]
    assert "Public inputs until" in call["summary"] and "Asia/Ulaanbaatar" in call["summary"]
    assert [e["state"] for e in entries[b.ref]] == ["public_inputs", "submitted"]
    ids = [e["id"] for es in entries.values() for e in es]
    assert len(set(ids)) == len(ids) and all(i.startswith("tag:") for i in ids)


async def test_the_live_cycle_feed(ctx, client, engine):
    a, b, _ = _record(ctx, engine)
    response = await client.get(f"/c/{SLUG}/cases/feed.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    _never_there(response.text, "cases/feed.atom")
    assert "The baseline is too high." not in response.text and "Ana Ruiz" not in response.text
    entries = _feed_entries(response.text, BASE)
    _check_feed(entries, a, b)
    # Stable: the same ids and instants later, with one more change on top.
    tick(ctx.clock)
    again = _feed_entries((await client.get(f"/c/{SLUG}/cases/feed.atom")).text, BASE)
    assert again == entries
    index = (await client.get(f"/c/{SLUG}/cases/")).text
    assert '<link rel="alternate" type="application/atom+xml"' in index and 'href="feed.atom"' in index
    assert (await client.get("/c/nowhere/cases/feed.atom")).status_code == 404


def test_the_static_copy_has_the_cycle_feed(ctx, engine, tmp_path):
    a, b, _ = _record(ctx, engine)
    out = tmp_path / "site"
    publish(ctx, out, "https://jc.example/record/")
    body = (out / "c" / SLUG / "cases" / "feed.atom").read_text()
    _never_there(body, "static cases/feed.atom")
    _check_feed(_feed_entries(body, "https://jc.example/record"), a, b)
    assert 'href="feed.atom"' in (out / "c" / SLUG / "cases" / "index.html").read_text()
