"""Reply tokens: short, case-proof, and impossible to make or alter without the secret."""
from __future__ import annotations

import re
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jcbot.channels.email.tokens import (
    TokenClaims,
    TokenError,
    find_tokens,
    make_token,
    read_token,
    recipient_addresses,
    reply_address,
    token_from_address,
    unverified_claims,
)

SECRET = b"unit-test secret, 32 bytes long!"
ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
ids = st.integers(min_value=0, max_value=2**32 - 1)


@pytest.mark.parametrize("proposal, version, member", [(0, 0, 0), (7, 1, 12), (16383, 16383, 16383), (2**32 - 1,) * 3])
def test_round_trip(proposal, version, member):
    token = make_token(SECRET, proposal, version, member)
    assert read_token(SECRET, token) == TokenClaims(proposal, version, member)


@pytest.mark.parametrize("proposal, version, member, length", [(7, 1, 12, 21), (16383, 16383, 16383, 26), (2**32 - 1,) * 3 + (40,)])
def test_length_grows_with_ids_and_stays_short_for_realistic_ones(proposal, version, member, length):
    assert len(make_token(SECRET, proposal, version, member)) == length


def test_alphabet_survives_local_parts_and_lowercasing():
    token = make_token(SECRET, 123, 2, 4567)
    assert re.fullmatch(r"[a-z2-7]+", token)
    # An MTA that upper- or lowercases the local part must not break the token.
    assert read_token(SECRET, token.upper()) == TokenClaims(123, 2, 4567)


def test_tokens_differ_per_member_version_and_proposal():
    tokens = {make_token(SECRET, 7, 1, 12), make_token(SECRET, 7, 1, 13), make_token(SECRET, 7, 2, 12), make_token(SECRET, 8, 1, 12)}
    assert len(tokens) == 4


def test_another_secret_refuses_the_token():
    token = make_token(SECRET, 7, 1, 12)
    with pytest.raises(TokenError, match="not issued by this jcbot"):
        read_token(b"another installation's secret", token)


def test_unverified_claims_show_ids_without_the_secret():
    token = make_token(SECRET, 7, 1, 12)
    assert unverified_claims(token) == TokenClaims(7, 1, 12)


@pytest.mark.parametrize(
    "token, message",
    [
        ("", "only letters"),
        ("abc+def", "only letters"),
        ("a4aq=z45bplztg65e4n7eg", "only letters"),
        ("a4aqz45b", "8 characters"),
        ("a" * 41, "41 characters"),
        ("a4aqz45bplztg65e4n7egaa"[:22], "not valid base32"),  # 22 chars cannot be whole bytes
        ("7" * 24, "cut short"),  # every byte has its continuation bit set
    ],
)
def test_malformed_tokens_are_refused_with_the_reason(token, message):
    with pytest.raises(TokenError, match=message):
        read_token(SECRET, token)


def test_truncated_token_is_refused():
    token = make_token(SECRET, 7, 1, 12)
    with pytest.raises(TokenError):
        read_token(SECRET, token[:-2])


@pytest.mark.parametrize("secret, args", [(b"", (1, 1, 1)), (SECRET, (-1, 1, 1)), (SECRET, (1, True, 1)), (SECRET, (1, 1, 2**32))])
def test_make_token_refuses_bad_input(secret, args):
    with pytest.raises(ValueError):
        make_token(secret, *args)


@given(ids, ids, ids)
def test_property_round_trip(proposal, version, member):
    token = make_token(SECRET, proposal, version, member)
    assert len(token) <= 40
    assert read_token(SECRET, token) == TokenClaims(proposal, version, member)


@given(ids, ids, ids, st.data())
def test_property_any_single_character_change_is_refused(proposal, version, member, data):
    token = make_token(SECRET, proposal, version, member)
    pos = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    char = data.draw(st.sampled_from(ALPHABET.replace(token[pos], "")))
    with pytest.raises(TokenError):
        read_token(SECRET, token[:pos] + char + token[pos + 1 :])


@given(st.text(max_size=60))
def test_property_arbitrary_text_is_refused_with_token_error_only(text):
    with pytest.raises(TokenError):
        read_token(SECRET, text)


def test_reply_address_carries_the_token_back():
    token = make_token(SECRET, 7, 1, 12)
    address = reply_address("jc", "jcm-mn.example.org", token)
    assert address == f"jc+{token}@jcm-mn.example.org"
    assert token_from_address(f'"JC Secretariat" <{address}>', "jc") == token
    assert token_from_address(address.upper(), "JC") == token


@pytest.mark.parametrize("local, domain", [("", "x.org"), ("jc+a", "x.org"), ("jc", ""), ("jc", "a@x.org")])
def test_reply_address_refuses_parts_that_would_break_it(local, domain):
    with pytest.raises(ValueError):
        reply_address(local, domain, "a4aqz45bplztg65e4n7eg")


@pytest.mark.parametrize(
    "addr, local, expected",
    [
        ("jc@x.org", "jc", None),
        ("other+tok@x.org", "jc", None),
        ("other+tok@x.org", None, "tok"),
        ("jc+@x.org", "jc", None),
        ("not an address", "jc", None),
    ],
)
def test_token_from_address_only_reads_our_plus_addresses(addr, local, expected):
    assert token_from_address(addr, local) == expected


def test_find_tokens_looks_in_every_recipient_header_once():
    msg = EmailMessage()
    msg["To"] = "Secretariat <secretariat@x.org>"
    msg["Cc"] = "jc+aaaa@x.org, someone+else@y.org"
    msg["Delivered-To"] = "jc+AAAA@x.org"
    msg["X-Original-To"] = "jc+bbbb@x.org"
    assert find_tokens(msg, "jc") == ("aaaa", "bbbb")
    assert find_tokens(msg) == ("aaaa", "else", "bbbb")
    assert recipient_addresses(msg)[0] == "secretariat@x.org"


def test_tokens_in_recipients_already_read_are_find_tokens():
    from email.message import EmailMessage

    from jcbot.channels.email.tokens import tokens_in

    msg = EmailMessage()
    msg["To"] = "jc+aaaa@x.org, Else <else+bbbb@x.org>"
    msg["Cc"] = "JC+AAAA@x.org, jc+cccc@y.org"
    assert tokens_in(recipient_addresses(msg), "jc") == find_tokens(msg, "jc") == ("aaaa", "cccc")
    assert tokens_in(recipient_addresses(msg)) == find_tokens(msg) == ("aaaa", "bbbb", "cccc")
