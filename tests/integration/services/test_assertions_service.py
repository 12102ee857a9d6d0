"""jcbot.services.assertions: who may assert, idempotent intake, letters, escalation, unanimity."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.core.errors import AssertionRefused
from jcbot.services import queries, roster, sweep
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.store.models import AssertionRecord, Decision, ProposalItem, ProposalVersion

from .helpers import (MN_DEADLINE, SECRETARIAT, T0, audit_actions, committee, counts, distributed, outbox,
                      recipients, rows, tick, variant)
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

ALL = ["bat", "dorj", "sato", "suzuki", "tanaka", "tsetseg"]
COCHAIRS_AND_ALTERNATES = ["bat", "dorj", "sato", "tanaka"]


def _assert(ctx, ref, member, position="affirmative", **kw):
    kw.setdefault("evidence_key", f"<{member}.{ctx.clock.now().timestamp()}@mail.example>")
    kw.setdefault("channel", "email")
    kw.setdefault("actor", f"email:{member}")
    return record_assertion(ctx, ref, member, position, **kw)


def _refused(ctx, exc_type, match, *args, **kw):
    before = counts(ctx.engine)
    with pytest.raises(exc_type, match=match):
        _assert(ctx, *args, **kw)
    assert counts(ctx.engine) == before


@pytest.fixture
def ref(ctx):
    committee(ctx)
    committee(ctx, "japan-viet-nam", text_=_vn_rules(), japan=("ito",), host=("nguyen",),
              cochairs=("ito", "nguyen"), alternates=())
    ref = distributed(ctx)
    tick(ctx.clock)
    return ref


def _vn_rules():
    return variant("japan-mongolia", **{"code: MN": "code: VN", "timezone: Asia/Ulaanbaatar": "timezone: Asia/Ho_Chi_Minh"})


def test_only_members_of_the_electorate_may_assert(ctx, ref):
    _refused(ctx, ServiceError, "japan-mongolia: no member 'mallory'", ref, "mallory")
    _refused(ctx, ServiceError, "japan-mongolia: no member 'ito'", ref, "ito")  # a member of another JC
    roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)
    tick(ctx.clock)
    _refused(ctx, AssertionRefused, "suzuki is no longer an active member of the JC", ref, "suzuki")
    _refused(ctx, ServiceError, "no proposal 'MN-P-2026-999'", "MN-P-2026-999", "tanaka")


@pytest.mark.parametrize("position, opinion, match", [
    ("negative", None, "tanaka: a negative assertion must carry the member's opinion"),
    ("negative", "   ", "tanaka: a negative assertion must carry the member's opinion"),
    ("abstain", None, "an assertion is 'affirmative' or 'negative', got 'abstain'"),
])
def test_malformed_assertions_are_refused(ctx, ref, position, opinion, match):
    _refused(ctx, AssertionRefused, match, ref, "tanaka", position, opinion=opinion)


def test_unknown_channel_refused(ctx, ref):
    _refused(ctx, ServiceError, "unknown channel 'fax'", ref, "tanaka", channel="fax")


def test_the_same_evidence_is_recorded_once(ctx, engine, ref):
    first = _assert(ctx, ref, "sato", evidence_key="<reply-1@mail.example>")
    after_first = counts(engine)
    tick(ctx.clock)
    again = _assert(ctx, ref, "sato", evidence_key="<reply-1@mail.example>")  # the same email delivered twice
    assert (again.duplicate, again.assertion_id, again.status) == (True, first.assertion_id, "open")
    assert not first.duplicate
    assert counts(engine) == after_first
    assert audit_actions(engine).count("assertion.recorded") == 1
    assert recipients(engine, "confirmation") == ["sato"]
    # Another piece of evidence is another assertion (the member asserts again).
    tick(ctx.clock)
    _assert(ctx, ref, "sato", "negative", opinion="On reflection, no.", evidence_key="<reply-2@mail.example>")
    assert len(rows(engine, AssertionRecord)) == 2


def test_confirmation_goes_back_on_the_channel_the_assertion_came_from(ctx, engine, ref):
    _assert(ctx, ref, "sato", channel="slack", evidence_key="slack:action:A1")
    _assert(ctx, ref, "suzuki", channel="email")
    assert [(m.channel, m.recipient) for m in outbox(engine, "confirmation", channel=None)] == [
        ("slack", "sato"), ("email", "suzuki")]
    row = outbox(engine, "confirmation", "slack")[0]
    assert row.payload["data"]["assertion"]["position"] == "affirmative"
    assert row.dedupe_key.startswith("slack:confirmation:")


def test_a_letter_recorded_by_the_secretariat(ctx, engine, ref):
    letter_date = T0 + timedelta(minutes=30)  # before the recording
    tick(ctx.clock, 120)
    r = _assert(ctx, ref, "tsetseg", "negative", opinion="The reference scenario is outdated.", channel="letter",
                at=letter_date, note="letter dated 3 March, received by post on 4 March",
                evidence_key="letter:2026-03-03:tsetseg", actor=SECRETARIAT)
    row = rows(engine, AssertionRecord)[0]
    assert (row.id, row.channel, row.at, row.recorded_at, row.recorded_by, row.note) == (
        r.assertion_id, "letter", letter_date, ctx.clock.now(), SECRETARIAT,
        "letter dated 3 March, received by post on 4 March")
    assert r.status == "objected" and row.opinion == "The reference scenario is outdated."
    view = queries.show(ctx, ref)
    assert view.verdict.negatives == ("tsetseg",)


@pytest.mark.parametrize("kw, match", [
    ({"channel": "letter", "note": "  "}, "an assertion recorded from a letter needs a note"),
    ({"channel": "slack", "at": T0}, "only an assertion made by letter or received by email may carry an earlier instant"),
    ({"channel": "letter", "note": "n", "at": T0 + timedelta(days=1)}, "cannot be recorded in the future"),
    ({"channel": "letter", "note": "n", "at": T0 - timedelta(seconds=1)}, "is before the distribution"),
])
def test_letters_need_a_note_and_a_plausible_date(ctx, ref, kw, match):
    # The date is the core's to judge (PROCEDURE 3, 6); the form of the input the service's.
    exc = AssertionRefused if "before the distribution" in match or "future" in match else ServiceError
    _refused(ctx, exc, match, ref, "tanaka", actor=SECRETARIAT, **kw)


def test_every_negative_escalates_to_both_cochairs_and_their_alternates(ctx, engine, ref):
    _assert(ctx, ref, "suzuki", "negative", opinion="Item 1 double counts.")
    tick(ctx.clock)
    _assert(ctx, ref, "tsetseg", "negative", opinion="Item 2 is premature.")
    tick(ctx.clock)
    _assert(ctx, ref, "tanaka", "negative", opinion="I agree with the objections.")  # a co-chair objects too
    ctx.clock.set(MN_DEADLINE + timedelta(days=2))
    _assert(ctx, ref, "dorj", "negative", opinion="Late, but still no.")  # after the period: escalated anyway
    escalations = outbox(engine, "escalation")
    assert len(escalations) == 4 * 4
    by_opinion: dict[str, list[str]] = {}
    for m in escalations:
        by_opinion.setdefault(m.payload["data"]["assertion"]["opinion"], []).append(m.recipient)
    assert {k: sorted(v) for k, v in by_opinion.items()} == {
        "Item 1 double counts.": COCHAIRS_AND_ALTERNATES, "Item 2 is premature.": COCHAIRS_AND_ALTERNATES,
        "I agree with the objections.": COCHAIRS_AND_ALTERNATES, "Late, but still no.": COCHAIRS_AND_ALTERNATES}
    assert len(outbox(engine, "escalation", "slack")) == 16
    assert len({m.dedupe_key for m in escalations}) == 16
    assert outbox(engine, "escalation")[0].payload["data"]["assertion"]["member"] == "suzuki"
    assert queries.show(ctx, ref).verdict.negatives == ("suzuki", "tsetseg", "tanaka")  # dorj's was late


def test_no_escalation_for_an_affirmative(ctx, engine, ref):
    _assert(ctx, ref, "suzuki")
    assert outbox(engine, "escalation", channel=None) == []


def test_unanimity_adopts_at_the_last_assertion(ctx, engine, ref):
    for m in ["tanaka", "sato", "suzuki", "bat", "dorj"]:
        assert _assert(ctx, ref, m).status == "open"
        tick(ctx.clock)
    assert outbox(engine, "adoption", channel=None) == []
    last_at = ctx.clock.now()
    r = _assert(ctx, ref, "tsetseg")
    assert (r.status, r.verdict.basis, r.verdict.adopted_at, r.ignored) == ("adopted", "unanimous", last_at, False)
    v = rows(engine, ProposalVersion)[0]
    assert (v.status, v.basis, v.adopted_at) == ("adopted", "unanimous", last_at)
    (d,) = rows(engine, Decision)
    assert (d.number, d.basis, d.adopted_at, d.version_id, d.meeting_id) == ("MN-2026-001", "unanimous", last_at, v.id, None)
    assert [(i["kind"], i["reference"]) for i in d.items] == [
        ("methodology_approval", "MN_AM001"), ("project_registration", "MN001")]
    assert [i.reference for i in rows(engine, ProposalItem)] == ["MN_AM001", "MN001"]
    assert audit_actions(engine)[-1] == "proposal.adopted"
    assert recipients(engine, "adoption") == ALL
    adoption = outbox(engine, "adoption")[0].payload["data"]
    assert adoption["decision"]["number"] == "MN-2026-001"
    assert adoption["proposal"]["items"][0]["reference"] == "MN_AM001"
    assert [m.recipient for m in outbox(engine, "announce_adoption", "slack")] == ["#committee"]
    # Adoption is final: a later assertion is kept in the record and ignored.
    tick(ctx.clock)
    late = _assert(ctx, ref, "suzuki", "negative", opinion="Changed my mind.")
    assert (late.status, late.ignored) == ("adopted", True)
    assert len(rows(engine, Decision)) == 1 and len(rows(engine, AssertionRecord)) == 7
    assert len(recipients(engine, "escalation")) == 4  # still escalated (PROCEDURE 7)


def test_an_objector_who_later_affirms_still_allows_unanimity(ctx, engine, ref):
    _assert(ctx, ref, "suzuki", "negative", opinion="Not yet.")
    for m in ["tanaka", "sato", "bat", "dorj", "tsetseg"]:
        tick(ctx.clock)
        assert _assert(ctx, ref, m).status == "objected"
    tick(ctx.clock)
    r = _assert(ctx, ref, "suzuki")
    assert (r.status, r.verdict.basis) == ("adopted", "unanimous")


def test_a_letter_dated_before_a_recorded_adoption_is_refused(ctx, engine, ref):
    for m in ALL:
        tick(ctx.clock)
        _assert(ctx, ref, m)
    tick(ctx.clock, 60)
    _refused(ctx, AssertionRefused, r"was adopted at .*an assertion dated before that cannot be added now",
             ref, "suzuki", "negative", opinion="Sent by post on day 0.", channel="letter", at=T0 + timedelta(seconds=1),
             note="posted 3 March", actor=SECRETARIAT)


def test_a_letter_dated_before_an_unrecorded_adoption_is_refused_too(ctx, engine, ref):
    # Both seats affirmed and the deadline passed: the decision was adopted at the
    # deadline whether or not a sweep has recorded it yet. A negative letter dated
    # within the period but recorded afterwards must not turn it into "objected".
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "bat")
    ctx.clock.set(MN_DEADLINE + timedelta(days=1))
    _refused(ctx, AssertionRefused, r"was adopted at 2026-03-23T16:00:00\+00:00; an assertion dated before that",
             ref, "suzuki", "negative", opinion="Posted on day 19.", channel="letter",
             at=MN_DEADLINE - timedelta(days=1), note="posted 22 March", actor=SECRETARIAT)
    assert sweep.sweep(ctx).changed == [(ref, "adopted")]
    assert rows(engine, ProposalVersion)[0].adopted_at == MN_DEADLINE


def test_an_assertion_after_an_unrecorded_adoption_records_the_adoption(ctx, engine, ref):
    _assert(ctx, ref, "tanaka")
    _assert(ctx, ref, "bat")
    ctx.clock.set(MN_DEADLINE + timedelta(days=1))
    r = _assert(ctx, ref, "suzuki", "negative", opinion="Too late?")
    assert (r.status, r.ignored, r.verdict.adopted_at) == ("adopted", True, MN_DEADLINE)
    (d,) = rows(engine, Decision)
    assert (d.basis, d.adopted_at) == ("no_objection", MN_DEADLINE)
