"""Replies that must not count: forged, misaddressed, stale, unreadable or automatic. Nothing is recorded."""
from __future__ import annotations

import pytest

from jcbot.channels.email.lmtp import start_listener
from jcbot.channels.email.tokens import make_token, read_token, reply_address, token_from_address
from jcbot.services import proposals, roster
from tests.integration.email.mailtest import (
    PEOPLE,
    create_committee,
    deliver,
    distribute,
    parsed,
    reply,
    send,
    text_of,
)

SATO = PEOPLE["sato"][2]


def refusal_for(jc, recipient: str) -> str:
    [row] = [r for r in jc.outbox("refusal") if r.recipient == recipient]
    msg = parsed(row)
    assert msg["Auto-Submitted"] == "auto-replied"
    return text_of(row)


def others_absent(text: str, *handles: str) -> None:
    """Nothing in the text names another member or gives their address."""
    for handle in handles:
        gov, name, email, _ = PEOPLE[handle]
        assert name not in text and email not in text and handle not in text


MX = "mx.jcm-mn.example.org"


def signed(raw: bytes, domain: str = "gmail.com") -> bytes:
    """The reply as our MTA hands it over after checking the sender's DKIM signature."""
    return f"Authentication-Results: {MX}; dkim=pass header.d={domain}\r\n".encode() + raw


@pytest.fixture
def trusting(committee_factory):
    """A jcbot that trusts its MTA's Authentication-Results (DKIM not required) and its listener."""
    jc = committee_factory(JCBOT_TRUSTED_AUTHSERV_IDS=MX)
    running = start_listener(jc.ctx, host="127.0.0.1", port=0)
    yield jc, running
    running.stop()


def test_forged_sender_gets_no_answer(jc, listener):
    # Not a member: answering would send mail to whoever the From names (backscatter).
    send(listener, jc, "gmail_yes.eml", sender="attacker@evil.example")
    assert jc.assertions() == []
    assert jc.outbox("refusal") == [] and jc.outbox("confirmation") == []


def test_token_of_another_member_is_refused(trusting):
    jc, listener = trusting
    raw = reply("negative_with_opinion.eml", to=jc.reply_to("bold"), sender=SATO)
    deliver(listener, raw, SATO, [jc.reply_to("bold")])
    assert jc.assertions() == [] and jc.outbox("refusal") == []  # not authenticated: maybe not Sato at all
    deliver(listener, signed(raw), SATO, [jc.reply_to("bold")])
    assert jc.assertions() == []
    text = refusal_for(jc, SATO)
    assert "reply from the address the proposal was sent to" in text
    others_absent(text, "bold", "tanaka")
    assert jc.outbox("escalation") == []


def test_wrong_token_is_refused(trusting):
    jc, listener = trusting
    forged = reply_address("jc", "jcm-mn.example.org", make_token(b"another installation", jc.proposal_id, 1,
                                                                  jc.members["sato"].id))
    deliver(listener, signed(reply("gmail_yes.eml", to=forged, sender=SATO)), SATO, [forged])
    token = jc.token("sato")
    altered = f"jc+{token[:-1] + ('a' if token[-1] != 'a' else 'b')}@jcm-mn.example.org"
    deliver(listener, signed(reply("iphone_agree.eml", to=altered, sender=SATO)), SATO, [altered])
    assert jc.assertions() == []
    rows = jc.outbox("refusal")
    assert len(rows) == 2 and all("not issued by jcbot" in text_of(r) for r in rows)


def test_no_token_is_refused(trusting):
    jc, listener = trusting
    to = "jc@jcm-mn.example.org"
    deliver(listener, reply("gmail_yes.eml", to=to, sender=SATO), SATO, [to])
    assert jc.outbox("refusal") == []  # anyone can write Sato's address in a From
    deliver(listener, signed(reply("gmail_yes.eml", to=to, sender=SATO)), SATO, [to])
    assert jc.assertions() == []
    assert "not sent to a reply address of a proposal" in refusal_for(jc, SATO)


def test_token_of_another_committees_proposal_is_refused(trusting):
    jc, listener = trusting
    other = {"sato": ("japan", "Hanako Sato", "sato.other@example.org", None),
             "tanaka": PEOPLE["tanaka"], "bold": PEOPLE["bold"]}
    create_committee(jc.ctx, jc.clock, slug="japan-kenya", people=other, code="KE")
    _, other_pid, _ = distribute(jc.ctx, slug="japan-kenya", title="Kenyan methodology")
    # A token for (the other committee's proposal, this committee's sato): made with the secret,
    # as only a bug or a leaked secret could; jcbot still refuses it, and answers no one:
    # SATO's address is no member's of the committee the token names.
    to = jc.reply_to("sato", proposal_id=other_pid)
    deliver(listener, signed(reply("gmail_yes.eml", to=to, sender=SATO)), SATO, [to])
    assert jc.assertions() == []
    assert jc.outbox("refusal") == []


def test_superseded_version_is_answered_with_its_current_state(jc, listener):
    proposals.revise(jc.ctx, jc.ref, "test", text="Revised text.", by="tanaka")
    send(listener, jc, "gmail_yes.eml")  # the token of version 1
    assert jc.assertions() == []
    text = refusal_for(jc, SATO)
    assert f"{jc.ref} version 1 was superseded by version 2; version 2 is open" in text
    assert parsed(jc.outbox("refusal")[0])["Reply-To"] is None  # answer the version 2 email, not this one
    send(listener, jc, "iphone_agree.eml", to=jc.reply_to("sato", version=2))
    [a] = jc.assertions()
    assert a.position == "affirmative"


def test_withdrawn_proposal_is_answered_with_its_state(jc, listener):
    proposals.withdraw(jc.ctx, jc.ref, "test", by="bold")
    send(listener, jc, "gmail_yes.eml")
    assert jc.assertions() == []
    assert f"{jc.ref} version 1 is withdrawn; nothing was recorded" in refusal_for(jc, SATO)


def test_member_who_left_is_refused(jc, listener):
    roster.remove_member(jc.ctx, "japan-mongolia", "sato", "test")
    send(listener, jc, "gmail_yes.eml")
    assert jc.assertions() == []
    assert "no longer an active member" in refusal_for(jc, SATO)


@pytest.mark.parametrize("model, why", [
    ("ambiguous_yes_object.eml", "both an affirmative word"),
    ("negative_without_opinion.eml", "a negative needs your opinion"),
    ("empty_reply.eml", "no answer above the quoted message"),
])
def test_unreadable_answer_gets_the_accepted_forms(jc, listener, model, why):
    send(listener, jc, model)
    assert jc.assertions() == []
    text = refusal_for(jc, SATO)
    assert why in text and "Object - the baseline is too high" in text and "AFFIRM" in text
    # The member may try again by replying to the refusal: it carries their token.
    [row] = jc.outbox("refusal")
    token = token_from_address(parsed(row)["Reply-To"].addresses[0].addr_spec, "jc")
    assert read_token(jc.secret, token).member_id == jc.members["sato"].id


@pytest.mark.parametrize("model", ["ooo_exchange.eml", "ooo_x_autoreply.eml", "bounce_dsn.eml"])
def test_auto_replies_are_ignored_without_answer(jc, listener, model):
    send(listener, jc, model)
    assert jc.assertions() == []
    assert jc.outbox("refusal") == [] and jc.outbox("confirmation") == []


def test_dkim_required_refuses_unauthenticated_and_accepts_trusted_results(committee_factory):
    jc = committee_factory(JCBOT_REQUIRE_DKIM="true", JCBOT_TRUSTED_AUTHSERV_IDS="mx.jcm-mn.example.org")
    running = start_listener(jc.ctx, host="127.0.0.1", port=0)
    try:
        send(running, jc, "gmail_yes.eml")
        assert jc.assertions() == []
        # Not answered: unauthenticated, it may come from anyone writing Sato's address (docs/email.md).
        assert jc.outbox("refusal") == []
        raw = reply("iphone_agree.eml", to=jc.reply_to("sato"), sender=SATO)
        raw = b"Authentication-Results: mx.jcm-mn.example.org; dkim=pass header.d=gmail.com\r\n" + raw
        deliver(running, raw, SATO, [jc.reply_to("sato")])
    finally:
        running.stop()
    [a] = jc.assertions()
    assert a.position == "affirmative"


