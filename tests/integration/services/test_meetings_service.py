"""jcbot.services.meetings: meetings, their decisions by consensus, adopting a referred proposal."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from jcbot.services import proposals
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.services.meetings import MeetingDecision, record_meeting
from jcbot.store.models import Decision, Meeting, Proposal

from .helpers import (ITEMS, SECRETARIAT, T0, audit_actions, committee, counts, current_version, distributed,
                      outbox_rows, rows, tick, variant)
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

UB = ZoneInfo("Asia/Ulaanbaatar")
Item = proposals.Item


def _decision(title="Approve MN_AM002", items=None, proposal=None):
    return MeetingDecision(title, "Decided by consensus.",
                           [Item("methodology_approval", "Boilers")] if items is None else items, proposal)


def _unanimous(ctx, ref):
    for m in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        record_assertion(ctx, ref, m, "affirmative", channel="slack", evidence_key=f"{ref}:{m}", actor="slack")


def test_a_meeting_and_its_decisions_continue_the_numbering(ctx, engine):
    committee(ctx)
    _unanimous(ctx, distributed(ctx))  # MN-2026-001, MN_AM001, MN001
    ctx.clock.set(datetime(2026, 4, 10, 9, tzinfo=UTC))
    meeting, decisions = record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", date(2026, 4, 9), "Ulaanbaatar", [
        _decision(),
        _decision("Register two projects and a TPE", [Item("project_registration", "Wind in Salkhit"),
                                                      Item("project_registration", "Heat only boilers"),
                                                      Item("tpe_designation", "TPE Y"),
                                                      Item("rules_revision", "Glossary", "JCM_GL001")]),
    ], SECRETARIAT)
    assert [d.number for d in decisions] == ["MN-2026-002", "MN-2026-003"]
    assert decisions[0].items == [{"kind": "methodology_approval", "title": "Boilers", "reference": "MN_AM002"}]
    assert [i["reference"] for i in decisions[1].items] == ["MN002", "MN003", None, "JCM_GL001"]
    stored = rows(engine, Decision, Decision.meeting_id == meeting.id)
    assert [(d.basis, d.adopted_at) for d in stored] == [("meeting", datetime(2026, 4, 9, 12, tzinfo=UB))] * 2
    m = rows(engine, Meeting)[0]
    assert (m.title, m.held_on, m.place) == ("3rd Joint Committee", date(2026, 4, 9), "Ulaanbaatar")
    assert audit_actions(engine)[-3:] == ["decision.recorded", "decision.recorded", "meeting.recorded"]
    # Each meeting decision points at its audit event.
    with engine.connect() as conn:
        hashes = dict(conn.execute(text("SELECT subject, hash FROM audit_event WHERE action = 'decision.recorded'")).all())
    assert {f"decision:{d.number}": d.audit_hash for d in stored} == hashes


def test_a_meeting_adopts_a_referred_proposal_once(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    record_assertion(ctx, ref, "suzuki", "negative", channel="email", opinion="Discuss it in person.",
                     evidence_key="e1", actor="email")
    proposals.refer(ctx, ref, SECRETARIAT, by="tanaka", note="to the 3rd meeting")
    ctx.clock.set(T0 + timedelta(days=40))
    meeting_day = (T0 + timedelta(days=39)).astimezone(UB).date()
    _, (d,) = record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", meeting_day, "Tokyo",
                             [_decision("Approve MN_AM001 and register MN001", ITEMS, ref)], SECRETARIAT)
    assert (d.number, d.basis) == ("MN-2026-001", "meeting")
    assert [i["reference"] for i in d.items] == ["MN_AM001", "MN001"]
    assert rows(engine, Proposal)[0].status == "adopted"
    v = current_version(engine, ref)
    assert d.version_id == v.id  # the decision names the proposal version it settled
    # A second meeting cannot adopt it again: one proposal, one decision.
    before = counts(engine)
    with pytest.raises(ServiceError, match=f"{ref} is adopted, not referred to a meeting of japan-mongolia"):
        record_meeting(ctx, "japan-mongolia", "4th Joint Committee", meeting_day, "Tokyo",
                       [_decision("Again", ITEMS, ref)], SECRETARIAT)
    with pytest.raises(ServiceError, match="no proposal 'MN-P-2026-002'"):
        record_meeting(ctx, "japan-mongolia", "4th Joint Committee", meeting_day, "Tokyo",
                       [_decision("Once", ITEMS, "MN-P-2026-002")], SECRETARIAT)
    assert counts(engine) == before


def test_the_same_referred_proposal_twice_in_one_meeting_is_refused(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    proposals.refer(ctx, ref, SECRETARIAT)
    before = counts(engine)
    with pytest.raises(ServiceError, match="is adopted, not referred"):
        record_meeting(ctx, "japan-mongolia", "3rd JC", ctx.clock.now().date(), "Tokyo",
                       [_decision("A", ITEMS, ref), _decision("B", ITEMS, ref)], SECRETARIAT)
    assert counts(engine) == before


def test_only_a_referred_proposal_of_the_same_committee_is_adopted_by_a_meeting(ctx, engine):
    committee(ctx)
    committee(ctx, "japan-kenya", text_=variant("default", **{"code: JC": "code: KE"}), japan=("abe",),
              host=("otieno",), cochairs=("abe", "otieno"), alternates=())
    open_ref = distributed(ctx)
    ke_ref = distributed(ctx, "japan-kenya")
    tick(ctx.clock)
    proposals.refer(ctx, ke_ref, SECRETARIAT)
    before = counts(engine)
    today = ctx.clock.now().date()
    with pytest.raises(ServiceError, match=f"{open_ref} is open, not referred to a meeting of japan-mongolia"):
        record_meeting(ctx, "japan-mongolia", "3rd JC", today, "Tokyo", [_decision("A", ITEMS, open_ref)], SECRETARIAT)
    with pytest.raises(ServiceError, match=f"{ke_ref} is referred, not referred to a meeting of japan-mongolia"):
        record_meeting(ctx, "japan-mongolia", "3rd JC", today, "Tokyo", [_decision("A", ITEMS, ke_ref)], SECRETARIAT)
    assert counts(engine) == before


@pytest.mark.parametrize("title, place, decisions, match", [
    ("", "Tokyo", [], "needs a title"),
    ("3rd JC", " ", [], "and a place"),
    ("3rd JC", "Tokyo", [_decision(), _decision("Bad", [Item("wish", "x")])], "kind must be one of"),
    ("3rd JC", "Tokyo", [_decision(), _decision("None", [])], "at least one item"),
])
def test_a_bad_meeting_writes_nothing(ctx, engine, title, place, decisions, match):
    committee(ctx)
    before = counts(engine)
    with pytest.raises(ServiceError, match=match):
        record_meeting(ctx, "japan-mongolia", title, ctx.clock.now().date(), place, decisions, SECRETARIAT)
    assert counts(engine) == before


def test_the_meeting_date_is_read_in_the_committees_calendar(ctx, engine):
    committee(ctx)
    # 01:00 on 15 April in Ulaanbaatar is still 14 April in UTC: a meeting held that
    # morning is today, not in the future.
    ctx.clock.set(datetime(2026, 4, 14, 17, tzinfo=UTC))
    _, (d,) = record_meeting(ctx, "japan-mongolia", "Conference call", date(2026, 4, 15), "by video", [_decision()],
                             SECRETARIAT)
    assert d.number == "MN-2026-001"
    before = counts(engine)
    with pytest.raises(ServiceError, match="a meeting held on 2026-04-16 is in the future"):
        record_meeting(ctx, "japan-mongolia", "Later", date(2026, 4, 16), "Tokyo", [_decision()], SECRETARIAT)
    assert counts(engine) == before


def _rendered(ctx, engine, kind, channel):
    """The outbox rows of `kind` on `channel`, rendered now as the dispatcher would (strict templates)."""
    from email import message_from_string, policy

    from jcbot.channels.email.compose import EmailRenderer
    from jcbot.channels.slack.compose import SlackRenderer

    renderer = EmailRenderer(ctx.settings, strict=True) if channel == "email" else SlackRenderer(ctx.settings)
    out = {}
    for row in outbox_rows(engine, kind, channel):
        payload = renderer.for_outbox(row)
        if channel == "email":
            msg = message_from_string(payload["message"], policy=policy.default)
            out[row.recipient] = (msg["Subject"], msg.get_body(("plain",)).get_content())
        else:
            out[row.recipient] = payload[0]["arguments"]["text"] + "\n" + str(payload[0]["arguments"]["blocks"])
    return out


def test_a_meeting_decision_is_announced_to_every_member_and_the_channel(ctx, engine):
    committee(ctx)
    ctx.clock.set(datetime(2026, 4, 10, 9, tzinfo=UTC))
    _, (d,) = record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", date(2026, 4, 9), "Ulaanbaatar",
                             [_decision()], SECRETARIAT)
    mails = _rendered(ctx, engine, "adoption", "email")
    assert sorted(mails) == sorted(f"{h}@japan-mongolia.example" for h in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"))
    subject, body = mails["bat@japan-mongolia.example"]
    assert "Adopted: decision MN-2026-001: Approve MN_AM002" in subject
    assert "consensus at the 3rd Joint Committee (2026-04-09, Ulaanbaatar)" in body
    assert "MN_AM002" in body and "Proposed as" not in body  # no proposal behind it
    posts = _rendered(ctx, engine, "announce_adoption", "slack")
    assert list(posts) == ["C0COMMITTEE"]
    assert "adopted as decision *MN-2026-001* by consensus at the 3rd Joint Committee" in posts["C0COMMITTEE"]
    # Each notice's key is the decision number: a retried transaction enqueues each once.
    assert {r.payload["notice"]["key"] for r in outbox_rows(engine, "adoption", "email")} == {
        f"adoption:decision:MN-2026-001:{h}" for h in ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")}


def test_a_referred_proposal_adopted_at_a_meeting_shows_adopted_and_is_notified(ctx, engine):
    from jcbot.cli.pending import view_json
    from jcbot.services import queries

    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    proposals.refer(ctx, ref, SECRETARIAT, by="tanaka", note="to the 3rd meeting")
    assert queries.show(ctx, ref).status == "referred"
    ctx.clock.set(T0 + timedelta(days=40))
    meeting_day = (T0 + timedelta(days=39)).astimezone(UB).date()
    _, (d,) = record_meeting(ctx, "japan-mongolia", "3rd Joint Committee", meeting_day, "Tokyo",
                             [_decision("Approve MN_AM001 and register MN001", ITEMS, ref)], SECRETARIAT)
    view = queries.show(ctx, ref)
    data = view_json(view, ctx.clock.now())
    assert (data["status"], data["basis"], data["decision"]) == ("adopted", "meeting", d.number)
    assert data["adopted_at"] == datetime.combine(meeting_day, datetime.min.time().replace(hour=12), tzinfo=UB).isoformat()
    subject, body = _rendered(ctx, engine, "adoption", "email")["suzuki@japan-mongolia.example"]
    assert f"Proposed as {ref}" in body and "MN_AM001" in body and "MN001" in body
    post = _rendered(ctx, engine, "announce_adoption", "slack")["C0COMMITTEE"]
    assert f"*{ref}*" in post and "by consensus at the 3rd Joint Committee" in post
