"""Finding the member's own text: above the quoted original, without signatures."""
from __future__ import annotations

import pytest

from jcbot.channels.email.quoting import strip_quoted, strip_signature

ORIGINAL = "Proposed decision 2026-07\nReply with AGREE or OBJECT."
QUOTED = "> Proposed decision 2026-07\n> Reply with AGREE or OBJECT."


@pytest.mark.parametrize(
    "text",
    [
        f"Agree\n\n-----Original Message-----\nFrom: JC\n\n{ORIGINAL}",
        f"Agree\n-------- Original Message --------\n{ORIGINAL}",
        f"Agree\n\n-----Ursprüngliche Nachricht-----\n{ORIGINAL}",
        f"Agree\n________________________________\nFrom: JC <jc@x.org>\nSent: Tuesday\n{ORIGINAL}",
        f"Agree\n\nFrom: JC <jc@x.org>\nSent: Tuesday, March 3, 2026 8:30 AM\nTo: me\n\n{ORIGINAL}",
        f"Agree\n\n*From:* JC <jc@x.org>\n*Date:* Tuesday\n\n{ORIGINAL}",
        f"Agree\n\nVon: JC <jc@x.org>\nGesendet: Dienstag\nAn: mich\n\n{ORIGINAL}",
        f"Agree\n\n差出人: JC <jc@x.org>\n送信日時: 2026年3月3日\n\n{ORIGINAL}",
        f"Agree\n\nOn Tue, Mar 3, 2026 at 8:30 AM JC Secretariat <jc@x.org> wrote:\n\n> {ORIGINAL}",
        f"Agree\n\nOn Tue, Mar 3, 2026 at 8:30 AM JC Secretariat <\njc@x.org> wrote:\n{ORIGINAL}",
        f"Agree\n\nAm Di., 3. März 2026 um 08:30 Uhr schrieb JC <jc@x.org>:\n{ORIGINAL}",
        f"Agree\n\n2026年3月3日(火) 8:30 JC Secretariat <jc@x.org>:\n\n{ORIGINAL}",
        f"Agree\n\n---------- Forwarded message ---------\nFrom: JC\n{ORIGINAL}",
        f"Agree\n\nBegin forwarded message:\n\n{ORIGINAL}",
        f"Agree\n{QUOTED}",
    ],
)
def test_everything_from_the_quoted_original_on_is_dropped(text):
    assert strip_quoted(text) == ["Agree"]


def test_a_from_line_alone_is_not_a_quote_header():
    text = "Object: see the note\nFrom: my point of view the baseline is high"
    assert strip_quoted(text) == text.split("\n")


def test_bottom_posted_reply_is_found_below_the_quote():
    text = f"On 03/03/2026 08:30, JC wrote:\n{QUOTED}\n>\n\nObject: too high\n\n-- \nDr. Oyun"
    assert strip_quoted(text) == ["", "Object: too high"]


def test_interleaved_reply_stops_at_the_next_quote():
    text = "> Item 1?\nAgree\n> Item 2?\nObject"
    assert strip_quoted(text) == ["Agree"]


def test_outlook_original_ends_even_a_bottom_post_search():
    text = f"-----Original Message-----\n{ORIGINAL}\n\nAgree"
    assert strip_quoted(text) == []


def test_inline_pgp_armour_is_skipped():
    text = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nAgree\n-----BEGIN PGP SIGNATURE-----\nabc\n"
    assert strip_quoted(text) == ["Agree"]


@pytest.mark.parametrize(
    "signature",
    ["-- \nDr. Oyun", "--\nDr. Oyun", "Sent from my iPhone", "Get Outlook for Android", "Von meinem iPad gesendet",
     "iPhoneから送信"],
)
def test_signatures_and_mobile_footers_are_cut(signature):
    assert strip_signature(["Agree", "", *signature.split("\n")]) == ["Agree"]


def test_crlf_and_nbsp_are_normalised():
    assert strip_quoted("Agree\xa0\r\n\r\n> quoted\r\n") == ["Agree"]
