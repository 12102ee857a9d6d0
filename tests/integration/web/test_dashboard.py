"""/dashboard: what co-chairs, alternates and the secretariat see, what members see, and the actions."""
from __future__ import annotations

import json
import re
from datetime import timedelta

from sqlalchemy import select

from jcbot.services import assertions, queries
from jcbot.store import outbox
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope
from jcbot.store.models import Committee
from tests.integration.services.helpers import SECRETARIAT, T0, committee, distributed, tick

from .conftest import add_secretariat, csrf_of, sign_in

OPINION = "The baseline <script>alert('x')</script> is too high."


def objected(ctx) -> str:
    """A distributed proposal: tanaka (japan co-chair) affirmed, dorj objected with an opinion."""
    committee(ctx)
    ref = distributed(ctx, title="Approve MN_AM001")
    tick(ctx.clock)
    assertions.record_assertion(ctx, ref, "tanaka", "affirmative", channel="email", evidence_key="t", actor=SECRETARIAT)
    assertions.record_assertion(ctx, ref, "dorj", "negative", channel="slack", evidence_key="d", actor=SECRETARIAT,
                                opinion=OPINION)
    ctx.clock.advance(timedelta(days=5, hours=2))
    return ref


def section(html: str, ref: str) -> str:
    m = re.search(rf'<article class="proposal"[^>]*data-ref="{re.escape(ref)}">(.*?)</article>', html, re.S)
    assert m, f"no card for {ref}"
    return m.group(1)


async def test_a_cochair_sees_everything_about_an_open_proposal(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    page = (await client.get("/dashboard")).text
    assert "You speak for the host co-chair seat." in page
    card = section(page, ref)
    assert "Approve MN_AM001" in card and '<span class="status objected">objected</span>' in card
    assert "<strong>15 days left</strong>" in card  # deadline 24 March 00:00, now 8 March 01:31 local
    assert "deadline Tue 24 Mar 2026, 00:00 (Asia/Ulaanbaatar)" in card
    assert "1 affirmative, 1 negative, 4 awaited, of 6 members" in card
    assert "<li>Japan seat (Tanaka): affirmative</li>" in card
    # Dorj is the host co-chair's alternate: the objection is also the host seat's position.
    assert '<li>Host seat (Bat): <strong class="bad">negative</strong></li>' in card
    assert "<dd>Sato, Suzuki, Bat, Tsetseg</dd>" in card
    assert "<strong class=\"bad\">Dorj</strong> objected on" in card and "(by slack)" in card
    assert "The baseline &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; is too high." in card
    for action in ("revise", "refer", "withdraw", "leave-open"):
        assert f'action="/dashboard/proposals/{ref}/{action}"' in card
    assert "Delivery problems" in page and "None: every message went out." in page


async def test_deadlines_show_in_the_viewers_own_time_zone(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "tanaka@japan-mongolia.example")  # a Japan member in Asia/Tokyo
    card = section((await client.get("/dashboard")).text, ref)
    assert "deadline Tue 24 Mar 2026, 01:00 (Asia/Tokyo)" in card


async def test_a_member_sees_only_what_awaits_them(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "suzuki@japan-mongolia.example")
    page = (await client.get("/dashboard")).text
    assert "Awaiting your assertion" in page and f"{ref}: Approve MN_AM001" in page
    for private in ("baseline", "Dorj", "affirmative", "/dashboard/proposals/", "Delivery problems"):
        assert private not in page, private
    # Forged action by a plain member: refused, nothing changed.
    refused = await client.post(f"/dashboard/proposals/{ref}/withdraw", data={"csrf": csrf_of(page), "note": "x"})
    assert refused.status_code == 403 and "Only the co-chairs" in refused.text
    assert queries.show(ctx, ref).version.status == "objected"
    tick(ctx.clock)
    assertions.record_assertion(ctx, ref, "suzuki", "affirmative", channel="email", evidence_key="s", actor=SECRETARIAT)
    assert "Nothing awaits you." in (await client.get("/dashboard")).text


async def test_an_alternate_withdraws_through_the_form(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "dorj@japan-mongolia.example")  # the host co-chair's alternate
    page = (await client.get("/dashboard")).text
    done = await client.post(f"/dashboard/proposals/{ref}/withdraw",
                             data={"csrf": csrf_of(page), "note": "to be redrafted"})
    assert done.status_code == 303 and done.headers["location"] == "/dashboard"
    assert queries.show(ctx, ref).version.status == "withdrawn"
    with session_scope(engine) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "proposal.withdrawn")).one()
    assert ev.actor == "web:dorj@japan-mongolia.example"
    assert json.loads(ev.data) == {"by": "dorj", "note": "to be redrafted", "version": 1}
    after = (await client.get("/dashboard")).text
    assert f"{ref} withdrawn; the members are told." in after and f'data-ref="{ref}"' not in after
    assert "withdrawn; the members" not in (await client.get("/dashboard")).text  # the message shows once


async def test_refusals_and_forged_forms_change_nothing(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    csrf = csrf_of((await client.get("/dashboard")).text)
    forged = await client.post(f"/dashboard/proposals/{ref}/withdraw", data={"csrf": "f" * 64})
    assert forged.status_code == 403 and "nothing was changed" in forged.text
    unknown = await client.post(f"/dashboard/proposals/{ref}/explode", data={"csrf": csrf})
    assert unknown.status_code == 404
    missing = await client.post("/dashboard/proposals/MN-P-2026-999/withdraw", data={"csrf": csrf})
    assert missing.status_code == 303
    assert "no proposal &#39;MN-P-2026-999&#39;. Nothing was changed." in (await client.get("/dashboard")).text
    assert queries.show(ctx, ref).version.status == "objected"
    client.cookies.delete("jcbot_session")
    anonymous = await client.post(f"/dashboard/proposals/{ref}/withdraw", data={"csrf": csrf})
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin"
    assert queries.show(ctx, ref).version.status == "objected"


async def test_revise_refer_and_leave_open(ctx, client, engine):
    ref = objected(ctx)
    await sign_in(client, engine, "bat@japan-mongolia.example")
    csrf = csrf_of((await client.get("/dashboard")).text)
    await client.post(f"/dashboard/proposals/{ref}/leave-open", data={"csrf": csrf, "note": "unanimity is near"})
    page = (await client.get("/dashboard")).text
    assert "stays open" in page and "Left open by Bat on" in section(page, ref) and "unanimity is near" in page
    await client.post(f"/dashboard/proposals/{ref}/revise",
                      data={"csrf": csrf, "title": "Approve MN_AM001 (revised)", "text": "The revised text."})
    view = queries.show(ctx, ref)
    assert (view.version.version, view.version.status, view.version.title) == (2, "open", "Approve MN_AM001 (revised)")
    assert view.version.text == "The revised text."
    await client.post(f"/dashboard/proposals/{ref}/refer", data={"csrf": csrf, "note": "to the 4th Joint Committee"})
    assert queries.show(ctx, ref).version.status == "referred"


async def test_the_secretariat_acts_on_behalf_but_cannot_leave_open(ctx, client, engine):
    ref = objected(ctx)
    with session_scope(engine) as s:
        cid = s.scalars(select(Committee.id)).one()
    add_secretariat(engine, "Alice", "alice@gec.example", cid)
    await sign_in(client, engine, "alice@gec.example")
    page = (await client.get("/dashboard")).text
    assert 'action="/dashboard/proposals/' + ref + '/leave-open"' not in page
    csrf = csrf_of(page)
    await client.post(f"/dashboard/proposals/{ref}/leave-open", data={"csrf": csrf})
    assert "leaving a proposal open is the co-chairs&#39; decision" in (await client.get("/dashboard")).text
    await client.post(f"/dashboard/proposals/{ref}/refer", data={"csrf": csrf, "note": "to a conference call"})
    with session_scope(engine) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "proposal.referred")).one()
    assert json.loads(ev.data)["by"] == "secretariat on behalf of the co-chairs"


async def test_outbox_problems_and_calendar_duties(ctx, client, engine):
    objected(ctx)
    with session_scope(engine) as s:
        msg = s.scalars(select(outbox.OutboxMessage).where(outbox.OutboxMessage.recipient == "sato@japan-mongolia.example")).first()
        outbox.mark_failed(s, msg.id, now=ctx.clock.now(), reason="550 5.1.1 <sato@x>: mailbox unknown")
    add_secretariat(engine, "Alice", "alice@gec.example")  # of every committee
    # The co-chairs were elected at T0 - 7 days (23:30 UTC, 07:30 next day in Ulaanbaatar) for one
    # year: 20 days before the end of their terms, the duty shows.
    ctx.clock.set(T0 - timedelta(days=7) + timedelta(days=365 - 20))
    await sign_in(client, engine, "bat@japan-mongolia.example")
    page = (await client.get("/dashboard")).text
    assert "550 5.1.1 &lt;sato@x&gt;: mailbox unknown" in page and "failed for good, 0 attempts" in page
    assert "The host co-chair&#39;s term (bat) ends on 2027-02-24: prepare the election." in page
    assert "The japan co-chair&#39;s term (tanaka) ends on 2027-02-24" in page
    assert "No meeting of the JC has been recorded" not in page
    ctx.clock.set(T0 + timedelta(days=400))
    await sign_in(client, engine, "alice@gec.example")
    page = (await client.get("/dashboard")).text
    assert "The japan co-chair seat is vacant since 2027-02-24: record an election." in page
    assert "No meeting of the JC has been recorded ever" in page
    # The former co-chair is a plain member now: no proposal details, no actions.
    await sign_in(client, engine, "tanaka@japan-mongolia.example")
    page = (await client.get("/dashboard")).text
    assert "Calendar duties" not in page and "/dashboard/proposals/" not in page
