"""/answer/{ref}: a signed-in member affirms or objects on the web, through the web intake."""
from __future__ import annotations

import re
from urllib.parse import quote

from sqlalchemy import select

from jcbot.services import assertions, proposals, queries
from jcbot.store.audit import AuditEvent
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord
from tests.integration.services.helpers import SECRETARIAT, committee, distributed, recipients, tick

from .conftest import BASE, csrf_of, sign_in, signin_links


def forms(html: str) -> dict[str, dict[str, str]]:
    """The hidden fields of the page's answer forms, by position."""
    out = {}
    for form in re.findall(r'<form method="post" action="/answer/[^"]+"[^>]*>(.*?)</form>', html, re.S):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
        out[fields["position"]] = fields
    return out


def answers(engine, ref: str) -> list[tuple[str, str, str | None]]:
    with session_scope(engine) as s:
        return [(a.member, a.position, a.channel) for a in s.scalars(
            select(AssertionRecord).order_by(AssertionRecord.id))]


async def test_a_member_objects_affirms_and_a_double_submit_records_once(ctx, client, engine):
    committee(ctx)
    ref = distributed(ctx, title="Approve MN_AM001")
    tick(ctx.clock)
    await sign_in(client, engine, "suzuki@japan-mongolia.example")
    board = (await client.get("/dashboard")).text
    assert f'href="/answer/{ref}"' in board
    page = await client.get(f"/answer/{ref}")
    assert page.status_code == 200 and "Approve MN_AM001" in page.text
    assert "Tue 24 Mar 2026, 01:00 (Asia/Tokyo)" in page.text
    f = forms(page.text)
    assert set(f) == {"affirmative", "negative"} and f["affirmative"]["nonce"] != f["negative"]["nonce"]

    # Object without an opinion: refused, the field marked and described, nothing recorded.
    refused = await client.post(f"/answer/{ref}", data=f["negative"] | {"opinion": "  "})
    assert refused.status_code == 400
    assert 'aria-invalid="true"' in refused.text and 'aria-describedby="opinion-help opinion-error"' in refused.text
    assert 'id="opinion-error"' in refused.text and "To object, write your opinion" in refused.text
    assert answers(engine, ref) == []

    # With an opinion: recorded, confirmed to suzuki, escalated to both co-chairs (and alternates).
    f = forms(refused.text)
    done = await client.post(f"/answer/{ref}", data=f["negative"] | {"opinion": "The baseline is too high."})
    assert done.status_code == 303 and done.headers["location"] == f"/answer/{ref}"
    assert answers(engine, ref) == [("suzuki", "negative", "web")]
    assert recipients(engine, "confirmation") == ["suzuki"]
    assert {"tanaka", "bat"} <= set(recipients(engine, "escalation"))
    after = (await client.get(f"/answer/{ref}")).text
    assert f"Recorded: you objected to {ref}." in after and "Your opinion went to both co-chairs." in after
    assert "negative, recorded" in after and "The baseline is too high." in after

    # The same form posted twice (a double click): recorded once.
    tick(ctx.clock)
    f = forms(after)
    first = await client.post(f"/answer/{ref}", data=f["affirmative"])
    again = await client.post(f"/answer/{ref}", data=f["affirmative"])
    assert first.status_code == again.status_code == 303
    assert answers(engine, ref) == [("suzuki", "negative", "web"), ("suzuki", "affirmative", "web")]
    assert "already recorded" in (await client.get(f"/answer/{ref}")).text
    assert queries.show(ctx, ref).verdict.positions["suzuki"] == "affirmative"
    with session_scope(engine) as s:
        ev = s.scalars(select(AuditEvent).where(AuditEvent.action == "assertion.recorded")
                       .order_by(AuditEvent.id.desc())).first()
    assert ev.actor == "web:suzuki@japan-mongolia.example"


async def test_refusals_are_shown_on_the_page(ctx, client, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    await sign_in(client, engine, "sato@japan-mongolia.example")
    f = forms((await client.get(f"/answer/{ref}")).text)
    # A forged CSRF token: nothing recorded.
    forged = await client.post(f"/answer/{ref}", data=f["affirmative"] | {"csrf": "0" * 64})
    assert forged.status_code == 403 and answers(engine, ref) == []
    # Closed by the co-chairs while the page was open: the intake's refusal is shown.
    proposals.withdraw(ctx, ref, SECRETARIAT)
    closed = await client.post(f"/answer/{ref}", data=f["affirmative"])
    assert closed.status_code == 409 and "is withdrawn; nothing was recorded" in closed.text
    assert 'role="alert"' in closed.text and "answers are no longer taken" in closed.text
    assert answers(engine, ref) == []


async def test_after_adoption_no_form_and_a_stale_form_changes_nothing(ctx, client, engine):
    committee(ctx)
    ref = distributed(ctx)
    await sign_in(client, engine, "tsetseg@japan-mongolia.example")
    f = forms((await client.get(f"/answer/{ref}")).text)
    for h in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        assertions.record_assertion(ctx, ref, h, "affirmative", channel="email", evidence_key=h, actor=SECRETARIAT)
    assert queries.show(ctx, ref).verdict.status == "adopted"
    page = (await client.get(f"/answer/{ref}")).text
    assert "is adopted; answers are no longer taken" in page and "<form method=\"post\" action=\"/answer" not in page
    stale = await client.post(f"/answer/{ref}", data=f["negative"] | {"opinion": "Too late?"})
    assert stale.status_code == 303
    assert "your answer does not change the outcome" in (await client.get(f"/answer/{ref}")).text
    assert queries.show(ctx, ref).verdict.status == "adopted"


async def test_a_member_outside_the_electorate_and_a_stranger(ctx, client, engine):
    from jcbot.services import roster

    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT, name="Kato", email="kato@jc.example")
    await sign_in(client, engine, "kato@jc.example")
    page = (await client.get(f"/answer/{ref}")).text
    assert "not a member of the committee when this proposal was distributed" in page
    # A form forged from another member's page: the core's refusal, shown.
    await sign_in(client, engine, "sato@japan-mongolia.example")
    f = forms((await client.get(f"/answer/{ref}")).text)
    await sign_in(client, engine, "kato@jc.example")
    f["affirmative"]["csrf"] = csrf_of((await client.get(f"/answer/{ref}")).text)
    refused = await client.post(f"/answer/{ref}", data=f["affirmative"])
    assert refused.status_code == 409 and "kato was not a member of the JC when it was distributed" in refused.text
    assert answers(engine, ref) == []
    missing = await client.get("/answer/MN-P-2026-999")
    assert missing.status_code == 404


async def test_without_a_session_sign_in_brings_the_member_back(ctx, client, engine):
    committee(ctx)
    ref = distributed(ctx)
    first = await client.get(f"/answer/{ref}")
    assert first.status_code == 303
    assert first.headers["location"] == f"/signin?next={quote('/answer/' + ref, safe='')}"
    form = await client.get(first.headers["location"])
    assert f'name="next" value="/answer/{ref}"' in form.text
    await client.post("/signin", data={"email": "dorj@japan-mongolia.example", "csrf": csrf_of(form.text),
                                       "next": f"/answer/{ref}"})
    link = signin_links(engine)[-1]
    assert link.endswith(f"?next={quote('/answer/' + ref, safe='')}")
    path = link.removeprefix(BASE)
    confirm = await client.get(path)
    done = await client.post(path, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/answer/{ref}"
    # Another site as the place to return to is ignored.
    page = await client.get("/signin", params={"next": "//evil.example/x"})
    assert 'name="next"' not in page.text
