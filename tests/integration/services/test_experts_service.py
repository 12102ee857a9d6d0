"""jcbot.services.experts: experts appointed to a proposal read its documents and comment; they never assert."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from jcbot.services import assertions, documents, experts, proposals
from jcbot.services.context import ServiceError
from jcbot.store.experts import ExpertAppointment, ExpertComment
from tests.support.documents import pdf

from .helpers import ITEMS, SECRETARIAT, T0, audit_actions, committee, counts, outbox, rows, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

COCHAIRS = {"tanaka@japan-mongolia.example", "bat@japan-mongolia.example",  # and their alternates
            "sato@japan-mongolia.example", "dorj@japan-mongolia.example"}


def everything(engine) -> dict[str, int]:
    """counts() with the expert tables."""
    with engine.connect() as conn:
        extra = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                 for t in ("expert_appointment", "expert_comment")}
    return counts(engine) | extra


def draft_with_documents(ctx) -> str:
    p = proposals.draft(ctx, "japan-mongolia", "Approve MN_PM012", "The JC approves MN_PM012.", ITEMS, SECRETARIAT,
                        uploads=[documents.Upload("MN_PM012.pdf", pdf(2, "public")),
                                 documents.Upload("MN_PM012-full.pdf", pdf(3, "full"), "confidential")])
    return p.ref


def test_an_expert_appointed_to_a_draft_receives_each_distributed_version(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    a = experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT, panel="Methodologies Panel")
    assert outbox(engine, "expert_brief") == []  # nothing to read before distribution
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    (brief,) = outbox(engine, "expert_brief")
    assert brief.address == "enkh@panel.example" and brief.recipient == f"expert-{a.id}"
    data = brief.payload["data"]
    assert sorted((d["name"], d["visibility"]) for d in data["documents"]) == [
        ("MN_PM012-full.pdf", "confidential"), ("MN_PM012.pdf", "public")]  # confidential ones included
    assert data["expert"]["panel"] == "Methodologies Panel"
    assert outbox(engine, "expert_brief", channel="slack") == []  # email only
    # A revision is a new version: the expert receives it too.
    tick(ctx.clock)
    proposals.revise(ctx, ref, SECRETARIAT, text="The JC approves MN_PM012 with revisions.")
    assert len(outbox(engine, "expert_brief")) == 2
    assert "expert.appointed" in audit_actions(engine)


def test_appointed_after_distribution_the_expert_is_briefed_at_once(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    assert [b.address for b in outbox(engine, "expert_brief")] == ["enkh@panel.example"]


def test_a_comment_reaches_the_cochairs_and_their_alternates_and_counts_for_nothing(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    a = experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    token = experts.page_token(ctx.settings, a.id)
    page = experts.page(ctx, token)
    assert (page.proposal.ref, page.version.version) == (ref, 1)
    tick(ctx.clock)
    before = counts(engine)["assertion"]
    experts.comment(ctx, token, "  The leakage estimate in section 4 is too low.  ")
    (c,) = rows(engine, ExpertComment)
    assert (c.text, c.version) == ("The leakage estimate in section 4 is too low.", 1)
    sent = outbox(engine, "expert_comment")
    assert {m.address for m in sent} == COCHAIRS
    assert sent[0].payload["data"]["comment"]["text"] == "The leakage estimate in section 4 is too low."
    assert counts(engine)["assertion"] == before  # an expert never asserts
    assert "expert.commented" in audit_actions(engine)


@pytest.mark.parametrize("name, email, match", [
    ("", "x@panel.example", "needs a name"),
    ("Dr. X", "not-an-address", "is not an email address"),
    ("Dr. X", "Suzuki@japan-mongolia.example", "is the address of member suzuki"),
])
def test_bad_appointments_change_nothing(ctx, engine, name, email, match):
    committee(ctx)
    ref = draft_with_documents(ctx)
    before = everything(engine)
    with pytest.raises(ServiceError, match=match):
        experts.appoint(ctx, ref, name, email, SECRETARIAT)
    assert everything(engine) == before


def test_twice_the_same_expert_and_unknown_proposals_are_refused(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    before = everything(engine)
    with pytest.raises(ServiceError, match="already appointed"):
        experts.appoint(ctx, ref, "Dr. Enkh", "ENKH@panel.example", SECRETARIAT)
    with pytest.raises(ServiceError, match="no proposal"):
        experts.appoint(ctx, "MN-P-2026-999", "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    assert everything(engine) == before


def test_forged_links_revoked_appointments_and_empty_comments_change_nothing(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    a = experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    token = experts.page_token(ctx.settings, a.id)
    before = everything(engine)
    with pytest.raises(ServiceError, match="not distributed yet"):
        experts.comment(ctx, token, "Early thoughts.")
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    before = everything(engine)
    with pytest.raises(ServiceError, match="write your comment"):
        experts.comment(ctx, token, "   ")
    with pytest.raises(experts.ExpertLinkError, match="not valid"):
        experts.comment(ctx, token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "Forged.")
    other_secret = experts.page_token(ctx.settings, a.id + 1)  # validly signed, but no such appointment
    with pytest.raises(experts.ExpertLinkError):
        experts.comment(ctx, other_secret, "Nobody.")
    assert everything(engine) == before
    experts.revoke(ctx, ref, "enkh@panel.example", SECRETARIAT)
    after_revoke = everything(engine)
    with pytest.raises(experts.ExpertLinkError, match="appointment has ended"):
        experts.page(ctx, token)
    with pytest.raises(experts.ExpertLinkError, match="appointment has ended"):
        experts.comment(ctx, token, "After the end.")
    assert everything(engine) == after_revoke
    assert rows(engine, ExpertAppointment)[0].revoked_at is not None


def test_an_expert_cannot_assert_even_with_a_members_tools(ctx, engine):
    committee(ctx)
    ref = draft_with_documents(ctx)
    ctx.clock.set(T0)
    proposals.distribute(ctx, ref, SECRETARIAT)
    experts.appoint(ctx, ref, "Dr. Enkh", "enkh@panel.example", SECRETARIAT)
    before = counts(engine)["assertion"]
    with pytest.raises(Exception, match="enkh|not a member|member"):
        assertions.record_assertion(ctx, ref, "expert-1", "affirmative", channel="email", evidence_key="x",
                                    actor="email")
    assert counts(engine)["assertion"] == before
