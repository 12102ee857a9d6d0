"""How a reply is read: the corpus of client-written replies, then the rules one by one."""
from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jcbot.channels.email.htmltext import html_to_text
from jcbot.channels.email.parse import ANSWER_WORDS, accepted_forms_text, read_reply, read_text
from jcbot.channels.email.tokens import TokenClaims, read_token

from .corpus import FIXTURE_SECRET, REPLIES, load

# filename -> (kind, assertion, text the opinion contains; None: no opinion)
EXPECTED = {
    "outlook_desktop_agree.eml": ("answer", "affirmative", "Taro YAMADA"),
    "outlook_original_message_object.eml": ("answer", "negative", "grid emission factor"),
    "outlook_web_object.eml": ("answer", "negative", "the baseline is too high for the Mongolian grid."),
    "gmail_yes.eml": ("answer", "affirmative", None),
    "html_only_approve.eml": ("answer", "affirmative", "thank you for the quick turnaround"),
    "apple_mail_disagree.eml": ("answer", "negative", "inverters’ meters"),
    "thunderbird_signature_affirmative.eml": ("answer", "affirmative", None),
    "thunderbird_bottom_posted_object.eml": ("answer", "negative", "2025 tariff reform"),
    "iphone_agree.eml": ("answer", "affirmative", None),
    "android_gmail_no.eml": ("answer", "negative", "double count the diesel generators"),
    "base64_affirm.eml": ("answer", "affirmative", "Баярлалаа"),
    "quoted_printable_object.eml": ("answer", "negative", "inflates the emission reductions by a factor of three"),
    "iso_8859_1_yes.eml": ("answer", "affirmative", "Grüßen"),
    "iso_2022_jp_agree.eml": ("answer", "affirmative", "了解しました"),
    "forwarded_agree.eml": ("answer", "affirmative", "copying my deputy"),
    "forwarded_as_attachment_object.eml": ("answer", "negative", "revised PDD"),
    "signed_pgp_mime_agree.eml": ("answer", "affirmative", None),
    "signed_inline_pgp_disagree.eml": ("answer", "negative", "start at commissioning, not\nat registration."),
    "ooo_exchange.eml": ("auto_reply", None, None),
    "ooo_x_autoreply.eml": ("auto_reply", None, None),
    "ooo_subject_only.eml": ("auto_reply", None, None),
    "bounce_dsn.eml": ("auto_reply", None, None),
    "ambiguous_yes_object.eml": ("ambiguous", None, None),
    "no_objection_ambiguous.eml": ("ambiguous", None, None),
    "empty_reply.eml": ("empty", None, None),
    "negative_without_opinion.eml": ("missing_opinion", None, None),
    "negative_with_opinion.eml": ("answer", "negative", "the baseline is too high"),
}


def test_every_corpus_file_has_an_expected_reading():
    assert sorted(p.name for p in REPLIES.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_reading(name):
    kind, assertion, opinion = EXPECTED[name]
    reading = read_reply(load(name))
    assert (reading.kind, reading.assertion) == (kind, assertion), reading.reason
    if opinion is None:
        assert reading.opinion is None
    else:
        assert opinion in reading.opinion
    # The distribution's own instructions ("AGREE or OBJECT") must never leak into a reading.
    assert "AGREE or OBJECT" not in (reading.opinion or "")
    assert reading.reason


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_headers_and_tokens(name):
    reading = read_reply(load(name), reply_local="jc")
    assert reading.message_id and reading.message_id.startswith("<")
    assert reading.from_address and "@" in reading.from_address
    assert len(reading.tokens) == 1
    claims = read_token(FIXTURE_SECRET, reading.tokens[0])
    assert (claims.proposal_id, claims.version) == (7, 1)


def test_corpus_thread_headers():
    reading = read_reply(load("outlook_desktop_agree.eml"))
    assert reading.in_reply_to == "<proposal-7.v1@jcm-mn.example.org>"
    assert reading.references == ("<proposal-7.v1@jcm-mn.example.org>",)
    assert reading.from_address == "taro.yamada@mofa.example.go.jp"
    assert read_token(FIXTURE_SECRET, reading.tokens[0]) == TokenClaims(7, 1, 12)


def _html_part(msg: EmailMessage):
    return msg.get_body(preferencelist=("html",)) if msg.get_body(preferencelist=("plain",)) else None


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if _html_part(load(n)) is not None))
def test_html_alternative_reads_like_the_text_part(name):
    # Clients that send both parts must not read differently if only the HTML were there.
    kind, assertion, _ = EXPECTED[name]
    html = _html_part(load(name)).get_content()
    got = read_text(html_to_text(html))
    assert (got.kind, got.assertion) == (kind, assertion), got.reason
    squash = lambda text: " ".join((text or "").split())  # noqa: E731 - paragraph spacing may differ
    assert squash(got.opinion) == squash(read_reply(load(name)).opinion)


@pytest.mark.parametrize(
    "text, assertion, opinion",
    [
        ("Agree.", "affirmative", None),
        ("YES -", "affirmative", None),
        ("AFFIRM", "affirmative", None),
        ("approve!", "affirmative", None),
        ("I agree", "affirmative", None),
        ("Agreed, thanks for the revision", "affirmative", "thanks for the revision"),
        ("Object: the baseline is too high", "negative", "the baseline is too high"),
        ("Object — the baseline is too high", "negative", "the baseline is too high"),
        ("OBJECT\n\nThe baseline is too high.\nSee annex 2.", "negative", "The baseline is too high.\nSee annex 2."),
        ("negative: monitoring is missing", "negative", "monitoring is missing"),
        ("No, the baseline is too high", "negative", "the baseline is too high"),
        ("We disagree - item 3 is premature", "negative", "item 3 is premature"),
        ("Dear colleagues,\n\nAgree.", "affirmative", None),
        ("Hi all\nObject - item 2 is premature", "negative", "item 2 is premature"),
        ("\n\n  ---\nAgree", "affirmative", None),
    ],
)
def test_answers(text, assertion, opinion):
    got_assertion, got_opinion, kind, reason, _line = read_text(text)
    assert (kind, got_assertion, got_opinion) == ("answer", assertion, opinion)
    assert assertion in reason


@pytest.mark.parametrize(
    "text, why",
    [
        ("yes, I object", "both an affirmative word ('yes') and a negative word ('object')"),
        ("agree / disagree", "both"),
        ("Yes, I don't agree", "both"),
        ("Agree. No objection.", "both"),
        ("No objection", "does not start with an accepted answer"),
        ("No comments", "does not start with an accepted answer"),
        ("Negative impacts on the grid are small", "does not start"),
        ("I think this is fine", "does not start"),
        ("Hello, I agree", "does not start"),
    ],
)
def test_ambiguous_first_lines_record_nothing(text, why):
    assertion, opinion, kind, reason, _line = read_text(text)
    assert (kind, assertion, opinion) == ("ambiguous", None, None)
    assert why in reason and "nothing recorded" in reason


@pytest.mark.parametrize("text", ["Object", "DISAGREE.", "No", "negative -", "Object\n\n-- \nDr. Oyun"])
def test_negative_without_opinion_records_nothing(text):
    assertion, opinion, kind, reason, _line = read_text(text)
    assert (kind, assertion, opinion) == ("missing_opinion", None, None)
    assert "needs your opinion" in reason


@pytest.mark.parametrize("text", ["", "   \n\n", "> Agree\n> quoted only", "Sent from my iPhone\n\n> On x wrote:\n> Agree"])
def test_empty_replies(text):
    assert read_text(text).kind == "empty"


def test_a_skipped_greeting_is_named_in_the_reason():
    assert read_text("Dear Secretariat,\nAgree").reason.startswith('the first line after the greeting "Agree"')


def test_no_text_part_is_empty_with_reason():
    msg = EmailMessage()
    msg["From"] = "a@x.org"
    msg.add_attachment(b"%PDF-1.7", maintype="application", subtype="pdf", filename="answer.pdf")
    reading = read_reply(msg)
    assert reading.kind == "empty"
    assert "no text or HTML part" in reading.reason


def test_auto_reply_wins_over_a_readable_answer():
    msg = EmailMessage()
    msg["From"] = "a@x.org"
    msg["Auto-Submitted"] = "auto-replied; owner-email=a@x.org"
    msg.set_content("Agree\n")
    reading = read_reply(msg)
    assert (reading.kind, reading.assertion) == ("auto_reply", None)
    assert "Auto-Submitted" in reading.reason and "ignored" in reading.reason


def test_two_from_addresses_give_no_sender():
    msg = EmailMessage()
    msg["From"] = "a@x.org, b@y.org"
    msg.set_content("Agree\n")
    assert read_reply(msg).from_address is None


def test_undeclared_utf8_in_a_us_ascii_part_is_still_read():
    msg = EmailMessage()
    msg["From"] = "a@x.org"
    msg.set_payload("Object – the baseline is too high".encode(), charset="us-ascii")
    msg.replace_header("Content-Transfer-Encoding", "8bit")
    reading = read_reply(msg)
    assert (reading.assertion, reading.opinion) == ("negative", "the baseline is too high")


def test_unknown_charset_falls_back_to_utf8():
    raw = b"From: a@x.org\nContent-Type: text/plain; charset=x-made-up\n\nAgree - tr\xc3\xa8s bien\n"
    reading = read_reply(message_from_bytes(raw, _class=EmailMessage, policy=default))
    assert reading.opinion == "très bien"


def test_accepted_forms_text_lists_every_form_and_an_example():
    text = accepted_forms_text()
    for word in ANSWER_WORDS:
        if word.role == "form":
            assert word.word in text.lower()
    assert "Object - the baseline is too high" in text
    assert "opinion" in text


def test_headers_the_email_package_cannot_parse_do_not_stop_the_reading():
    # Each of these makes the stdlib's header parser raise when the header is read.
    raw = b"From: YAMADA Taro <\nTo: jc+a4aqz45bplztg65e4n7eg@[\nCc: jc+abc@\nMessage-ID: <<x@y>\n\nAgree\n"
    reading = read_reply(message_from_bytes(raw, _class=EmailMessage, policy=default), reply_local="jc")
    assert (reading.kind, reading.assertion, reading.from_address) == ("answer", "affirmative", None)
    assert reading.message_id == "<x@y>"  # the id inside the brackets: never a value that breaks a header


CORPUS_BYTES = {name: (REPLIES / name).read_bytes() for name in sorted(EXPECTED)}
KINDS = {"answer", "auto_reply", "ambiguous", "empty", "missing_opinion", "unreadable"}


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(CORPUS_BYTES)), st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(max_size=8)), max_size=8))
def test_property_damaged_replies_are_read_without_crashing(name, edits):
    data = bytearray(CORPUS_BYTES[name])
    for where, insert in edits:  # overwrite a few bytes anywhere, headers and MIME structure included
        pos = int(where * len(data))
        data[pos : pos + len(insert)] = insert
    reading = read_reply(message_from_bytes(bytes(data), _class=EmailMessage, policy=default), reply_local="jc")
    assert reading.kind in KINDS and reading.reason
    assert (reading.assertion is not None) == (reading.kind == "answer")
    assert reading.kind != "missing_opinion" or reading.opinion is None
