"""Bounce addresses: one per outbox message, signed, the same each time, and short enough for any relay."""
from __future__ import annotations

from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jcbot.channels.email.bounces import (
    BounceTokenError,
    bounce_address,
    bounce_tokens,
    make_bounce_token,
    read_bounce_token,
)
from jcbot.channels.email.tokens import TokenError, make_token, read_token

SECRET = b"unit-test secret, 32 bytes long!"


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_round_trip(message_id):
    assert read_bounce_token(SECRET, make_bounce_token(SECRET, message_id)) == message_id


def test_the_same_message_gets_the_same_address_and_another_one_another():
    # Rendering is deterministic: a resend of message 42 has the envelope sender it had.
    first = bounce_address(SECRET, "jc", "jcm-mn.example.org", 42)
    assert first == bounce_address(SECRET, "jc", "jcm-mn.example.org", 42)
    assert first != bounce_address(SECRET, "jc", "jcm-mn.example.org", 43)
    assert first.startswith("jc+b-") and first.endswith("@jcm-mn.example.org")


@pytest.mark.parametrize("token", [
    "", "b-", "aaaaaaaaaaaaaaaaaaaa", "AAAA!", "a" * 200,
    make_bounce_token(b"another installation's secret!!", 42),
])
def test_forged_or_malformed_tokens_are_refused(token):
    with pytest.raises(BounceTokenError):
        read_bounce_token(SECRET, token)


def test_an_altered_token_is_refused():
    token = make_bounce_token(SECRET, 42)
    for i in range(len(token)):
        altered = token[:i] + ("a" if token[i] != "a" else "b") + token[i + 1:]
        with pytest.raises(BounceTokenError):
            read_bounce_token(SECRET, altered)


def test_bounce_and_reply_tokens_never_stand_for_each_other():
    with pytest.raises(BounceTokenError):
        read_bounce_token(SECRET, make_token(SECRET, 1, 1, 1))
    with pytest.raises(TokenError):
        read_token(SECRET, make_bounce_token(SECRET, 1))


def test_the_local_part_stays_within_64_octets():
    # The largest id: 24 characters of token, so a local part of up to 37 characters fits.
    largest = bounce_address(SECRET, "l" * 37, "example.org", 2**32 - 1)
    assert largest is not None and len(largest.partition("@")[0]) <= 64
    assert len(make_bounce_token(SECRET, 2**32 - 1)) == 24
    assert len(make_bounce_token(SECRET, 7)) == 18
    # Longer than that: no bounce address (the sender is then plain JCBOT_MAIL_FROM).
    assert bounce_address(SECRET, "l" * 38, "example.org", 2**32 - 1) is None


def test_bounce_tokens_are_read_from_the_recipients_on_the_reply_local_part():
    token = make_bounce_token(SECRET, 5)
    msg = EmailMessage()
    msg["To"] = f"jc+b-{token}@jcm-mn.example.org"
    msg["Cc"] = f"other+b-{make_bounce_token(SECRET, 6)}@jcm-mn.example.org, jc+{make_token(SECRET, 1, 1, 1)}@x.org"
    assert bounce_tokens(msg, "jc") == (token,)
    assert bounce_tokens(msg, "nobody") == ()


def test_recipients_already_read_give_the_tokens_reading_them_gives():
    from jcbot.channels.email.tokens import recipient_addresses

    msg = EmailMessage()
    msg["To"] = f"jc+b-{make_bounce_token(SECRET, 5)}@jcm-mn.example.org, someone@x.org"
    msg["Delivered-To"] = f"jc+b-{make_bounce_token(SECRET, 6)}@jcm-mn.example.org"
    envelope = [f"jc+b-{make_bounce_token(SECRET, 7)}@jcm-mn.example.org"]
    read = bounce_tokens(msg, "jc", envelope)
    assert len(read) == 3
    assert bounce_tokens(msg, "jc", envelope, recipient_addresses(msg)) == read
    # Only what it is given is read: the message's headers are not read again.
    assert bounce_tokens(msg, "jc", envelope, ()) == read[:1]
