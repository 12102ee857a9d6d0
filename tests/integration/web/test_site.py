"""The public record served live: decisions appear at adoption, only adopted ones, escaped."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from sqlmodel import select

from jcbot.services import assertions, proposals, queries, sweep
from jcbot.services.meetings import MeetingDecision, record_meeting
from jcbot.store import audit
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope
from jcbot.store.models import Decision
from tests.integration.services.helpers import ITEMS, MN_DEADLINE, SECRETARIAT, committee, distributed, tick, variant

ATOM = "{http://www.w3.org/2005/Atom}"
EVERYONE = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")


def affirm(ctx, ref, *who):
    for h in who:
        tick(ctx.clock)
        assertions.record_assertion(ctx, ref, h, "affirmative", channel="email", evidence_key=f"{ref}:{h}:{ctx.clock.now()}",
                                    actor=SECRETARIAT)


def adoption_hash(engine, number):
    with session_scope(engine) as s:
        for ev in s.exec(select(AuditEvent).where(AuditEvent.action == "proposal.adopted")):
            if ev.data_value()["decision"] == number:
                return ev.hash
    raise AssertionError(f"no adoption event for {number}")


async def test_a_decision_is_online_the_moment_it_is_adopted(ctx, client, engine):
    committee(ctx)
    ref = distributed(ctx, title="Approve MN_AM001 and register MN001")
    before = await client.get("/c/japan-mongolia/")
    assert before.status_code == 200 and "No decision has been adopted yet." in before.text
    assert "Approve MN_AM001" not in before.text
    affirm(ctx, ref, *EVERYONE)
    index = await client.get("/")
    assert "Japan-Mongolia Joint Committee" in index.text and "1 decision " in index.text
    listing = await client.get("/c/japan-mongolia/")
    assert "MN-2026-001" in listing.text and 'href="../../c/japan-mongolia/decisions/MN-2026-001/"' in listing.text
    page = await client.get("/c/japan-mongolia/decisions/MN-2026-001/")
    assert page.status_code == 200
    body = page.text
    assert "<h1 data-field=\"title\">Approve MN_AM001 and register MN001</h1>" in body
    assert "Electronic decision: unanimous" in body
    # Items got their JCM references at adoption.
    assert 'data-reference="MN_AM001"' in body and 'data-reference="MN001"' in body
    assert "Energy-efficient transformers" in body and "Solar power in Darkhan" in body
    assert adoption_hash(engine, "MN-2026-001") in body
    assert '<html lang="en">' in body and '<main id="main"' in body and "Skip to content" in body
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_no_objection_basis_and_the_date_in_the_committees_time_zone(ctx, client):
    committee(ctx)
    ref = distributed(ctx)
    affirm(ctx, ref, "tanaka", "bat")
    ctx.clock.set(MN_DEADLINE + timedelta(hours=2))
    sweep.sweep(ctx)
    page = (await client.get("/c/japan-mongolia/decisions/MN-2026-001/")).text
    assert "Electronic decision: no objection within 20 calendar days" in page
    # Adopted at the deadline, 16:00 UTC on 23 March = 00:00 on 24 March in Ulaanbaatar.
    assert 'datetime="2026-03-23T16:00:00.000000Z"' in page and ">24 March 2026</time>" in page
    assert "(Asia/Ulaanbaatar)" in page


async def test_meeting_decisions_name_the_meeting_and_carry_their_hash(ctx, client, engine):
    committee(ctx)
    _, [d] = record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", date(2026, 2, 20), "Ulaanbaatar",
                            [MeetingDecision("Adopt the rules of procedure", "Adopted as annexed.", ITEMS[:1])],
                            SECRETARIAT)
    page = (await client.get(f"/c/japan-mongolia/decisions/{d.number}/")).text
    assert "3rd Joint Committee, Ulaanbaatar" in page and ">20 February 2026</time>" in page
    assert d.audit_hash and d.audit_hash in page


async def test_text_from_proposals_is_escaped_and_keeps_its_line_breaks(ctx, client):
    committee(ctx)
    p = proposals.draft(ctx, "japan-mongolia", "Rules <script>alert('t')</script> & more",
                        "First <b>line</b>\nsecond line <script>alert(1)</script>\n\nNew paragraph & end",
                        ITEMS[:1], SECRETARIAT)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    affirm(ctx, p.ref, *EVERYONE)
    for path in ("/c/japan-mongolia/decisions/MN-2026-001/", "/c/japan-mongolia/", "/c/japan-mongolia/feed.atom"):
        body = (await client.get(path)).text
        assert "<script>" not in body and "<b>line" not in body, path
    page = (await client.get("/c/japan-mongolia/decisions/MN-2026-001/")).text
    assert "Rules &lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; &amp; more" in page
    assert "<p>First &lt;b&gt;line&lt;/b&gt;<br>\nsecond line &lt;script&gt;alert(1)&lt;/script&gt;</p>" in page
    assert "<p>New paragraph &amp; end</p>" in page
    data = (await client.get("/c/japan-mongolia/decisions.json")).json()
    assert data["decisions"][0]["text"].startswith("First <b>line</b>\n")  # JSON keeps the exact text


async def test_only_adopted_decisions_and_never_opinions_or_names(ctx, client):
    committee(ctx)
    open_ref = distributed(ctx, title="Still open: register MN009")
    ref = proposals.draft(ctx, "japan-mongolia", "Adopt the budget", "Text.", ITEMS[:1], SECRETARIAT).ref
    proposals.distribute(ctx, ref, SECRETARIAT)
    tick(ctx.clock)
    assertions.record_assertion(ctx, ref, "dorj", "negative", channel="email", evidence_key="neg", actor=SECRETARIAT,
                                opinion="CONFIDENTIAL-OPINION about the budget")
    affirm(ctx, ref, *EVERYONE)  # dorj changes to affirmative: unanimous
    assert queries.show(ctx, ref).version.status == "adopted"
    pages = ["/", "/c/japan-mongolia/", "/c/japan-mongolia/decisions/MN-2026-001/", "/c/japan-mongolia/feed.atom",
             "/c/japan-mongolia/decisions.json"]
    for path in pages:
        body = (await client.get(path)).text
        assert "Adopt the budget" in body, path
        for secret in ("Still open", "CONFIDENTIAL-OPINION", "Dorj", "dorj", "Tally"):
            assert secret not in body, (path, secret)
    missing = await client.get(f"/c/japan-mongolia/decisions/{open_ref}/")
    assert missing.status_code == 404 and "Still open" not in missing.text
    assert (await client.get("/c/nowhere/")).status_code == 404
    assert (await client.get("/c/nowhere/feed.atom")).status_code == 404


async def test_a_tally_only_when_the_rules_publish_one(ctx, client):
    committee(ctx, text_=variant("japan-mongolia", **{"publish_tally: false": "publish_tally: true"}))
    ref = distributed(ctx)
    affirm(ctx, ref, *EVERYONE)
    page = (await client.get("/c/japan-mongolia/decisions/MN-2026-001/")).text
    assert '<dd data-field="tally">6 affirmative, 0 negative, of 6 members</dd>' in page
    exported = (await client.get("/c/japan-mongolia/decisions.json")).json()["decisions"][0]
    assert exported["tally"] == {"affirmative": 6, "negative": 0, "electorate": 6}


async def test_feed_and_json_export_carry_every_decision_and_the_chain_head(ctx, client, engine):
    committee(ctx)
    for n in range(2):
        ref = distributed(ctx, title=f"Decision number {n}", at=ctx.clock.now() + timedelta(minutes=5))
        affirm(ctx, ref, *EVERYONE)
    feed = await client.get("/c/japan-mongolia/feed.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert [e.find(f"{ATOM}title").text for e in entries] == ["MN-2026-002: Decision number 1",
                                                               "MN-2026-001: Decision number 0"]
    assert entries[0].find(f"{ATOM}link").get("href") == "http://jc.example/c/japan-mongolia/decisions/MN-2026-002/"
    data = json.loads((await client.get("/c/japan-mongolia/decisions.json")).text)
    with session_scope(engine) as s:
        head = audit.verify(s).head_hash
        numbers = [d.number for d in s.exec(select(Decision).order_by(Decision.id.desc()))]
    assert data["audit_head"]["hash"] == head
    assert [d["number"] for d in data["decisions"]] == numbers
    assert all(d["audit_hash"] == adoption_hash(engine, d["number"]) for d in data["decisions"])
    assert data["decisions"][0]["basis_text"] == "Electronic decision: unanimous"


async def test_pages_without_trailing_slash_redirect_and_the_stylesheet_is_served(ctx, client):
    committee(ctx)
    r = await client.get("/c/japan-mongolia")
    assert r.status_code in (307, 308) and r.headers["location"].endswith("/c/japan-mongolia/")
    css = await client.get("/static/site.css")
    assert css.status_code == 200 and "@media print" in css.text and css.headers["content-type"].startswith("text/css")
