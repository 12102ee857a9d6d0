"""Replies the organisation's MTA queued while jcbot was down count when the MTA received them.

The MTA (Postfix in front, as docs/email.md sets it up) prepends its Received header on
receipt and hands the reply to jcbot's LMTP listener once jcbot is back, after the
deadline. With JCBOT_TRUSTED_RECEIVED_BY naming it, the reply is dated by that header;
a header the sender wrote (a forged Received, the Date) dates nothing.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jcbot.channels.email.lmtp import start_listener
from jcbot.services import queries
from jcbot.services.assertions import record_assertion
from tests.integration.email.mailtest import DEADLINE, PEOPLE, deliver, reply, text_of

MX = "mx.jcm-mn.example.org"
BACK = DEADLINE + timedelta(hours=2)  # jcbot restarts; Postfix flushes its queue


def _rfc5322(at: datetime) -> str:
    return at.strftime("%a, %d %b %Y %H:%M:%S +0000")


def trusted(at: datetime) -> list[str]:
    """What Postfix on our MX prepends when it takes a reply from the sender's provider."""
    return [f"from mail-wr1-f50.google.com (mail-wr1-f50.google.com [209.85.221.50])\r\n\tby {MX} (Postfix) "
            f"with ESMTPS id 4Zx1Lq0Kd2z9sVm\r\n\tfor <jc@jcm-mn.example.org>; {_rfc5322(at)}"]


def forged(at: datetime) -> list[str]:
    """A reply that reached jcbot without our MX's header, the sender claiming our MX took it at `at`."""
    return [f"by mail-wr1-f50.google.com with SMTP id l14csp1; {_rfc5322(BACK - timedelta(minutes=1))}",
            f"from x by {MX} (Postfix) with ESMTPS id 1; {_rfc5322(at)}"]


@pytest.fixture
def jc(committee_factory):
    made = committee_factory(JCBOT_TRUSTED_RECEIVED_BY=MX)
    made.clock.set(DEADLINE - timedelta(days=3))
    return made


def queued(jc, handle: str, model: str, received: list[str]) -> None:
    """jcbot is back after the deadline; the MTA delivers a reply it queued, with these Received headers."""
    to, sender = jc.reply_to(handle), PEOPLE[handle][2]
    raw = "".join(f"Received: {r}\r\n" for r in received).encode() + reply(model, to=to, sender=sender)
    jc.clock.set(BACK)
    running = start_listener(jc.ctx, host="127.0.0.1", port=0, protocol="lmtp")
    try:
        deliver(running, raw, sender, [to])
    finally:
        running.stop()


def affirm(jc, *handles: str) -> None:
    for handle in handles:
        record_assertion(jc.ctx, jc.ref, handle, "affirmative", channel="cli", evidence_key=f"cli:{handle}",
                         actor="test")


@pytest.mark.parametrize("headers, counts", [(trusted, True), (forged, False)])
def test_objection_received_by_our_mx_before_the_deadline_prevents_adoption(jc, headers, counts):
    affirm(jc, "tanaka")  # the host co-chair has not affirmed yet: not adopted at the deadline
    at_mx = DEADLINE - timedelta(seconds=30)
    queued(jc, "sato", "negative_with_opinion.eml", headers(at_mx))
    [objection] = [a for a in jc.assertions() if a.member == "sato"]
    assert objection.position == "negative" and objection.recorded_at == BACK
    if counts:
        assert objection.at == at_mx and objection.note == f"dated by Received #1 (by {MX})"
    else:
        assert objection.at == BACK and objection.note is None
    assert queries.show(jc.ctx, jc.ref).verdict.status == ("objected" if counts else "open")
    affirm(jc, "bold")  # the co-chairs' affirmation completes (i) unless a negative came within the period
    verdict = queries.show(jc.ctx, jc.ref).verdict
    if counts:
        assert (verdict.status, verdict.adopted_at) == ("objected", None)
    else:
        assert (verdict.status, verdict.basis, verdict.adopted_at) == ("adopted", "no_objection", BACK)


@pytest.mark.parametrize("headers, counts", [(trusted, True), (forged, False)])
def test_affirmative_received_by_our_mx_completes_unanimity_at_that_instant(jc, headers, counts):
    affirm(jc, "tanaka", "sato", "dorj", "smith")
    at_mx = DEADLINE - timedelta(hours=1)
    queued(jc, "bold", "gmail_yes.eml", headers(at_mx))
    verdict = queries.show(jc.ctx, jc.ref).verdict
    assert (verdict.status, verdict.basis) == ("adopted", "unanimous")
    assert verdict.adopted_at == (at_mx if counts else BACK)


def test_a_received_date_before_distribution_is_impossible_and_dated_at_receipt(jc, caplog):
    affirm(jc, "tanaka")
    queued(jc, "sato", "gmail_yes.eml", trusted(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    [a] = [a for a in jc.assertions() if a.member == "sato"]
    assert a.at == BACK and a.note is None
    assert "before the proposal was distributed" in caplog.text


def test_a_received_date_in_the_future_is_dated_at_receipt(jc, caplog):
    queued(jc, "sato", "gmail_yes.eml", trusted(BACK + timedelta(hours=5)))
    [a] = jc.assertions()
    assert a.at == BACK and a.note is None
    assert "in the future" in caplog.text and "receipt_time" in caplog.text


def test_without_a_trusted_mta_configured_the_reply_is_dated_at_receipt(committee_factory):
    jc = committee_factory()  # JCBOT_TRUSTED_RECEIVED_BY unset: as before this setting existed
    queued(jc, "sato", "gmail_yes.eml", trusted(DEADLINE - timedelta(hours=1)))
    [a] = jc.assertions()
    assert a.at == BACK


def test_an_objection_queued_past_a_computed_adoption_is_refused_not_recorded(jc):
    # Both seats affirmed, nobody objected on record: at the deadline the decision is adopted,
    # and adoption is final (PROCEDURE 6) even for a reply our MX took before it.
    affirm(jc, "tanaka", "bold")
    queued(jc, "sato", "negative_with_opinion.eml", trusted(DEADLINE - timedelta(seconds=30)))
    assert [a.member for a in jc.assertions()] == ["tanaka", "bold"]
    verdict = queries.show(jc.ctx, jc.ref).verdict
    assert (verdict.status, verdict.basis, verdict.adopted_at) == ("adopted", "no_objection", DEADLINE)
    [refusal] = jc.outbox("refusal")
    assert refusal.recipient == PEOPLE["sato"][2]
    assert "an assertion dated before that cannot be added now (tell the co-chairs)" in " ".join(text_of(refusal).split())
