"""The MIME writer: the same text as EmailMessage with the SMTP policy, and what the stdlib parser reads in it."""
from __future__ import annotations

import random
from email import message_from_bytes, quoprimime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses

import pytest

from jcbot.channels.email.mime import (WIRE, Attachment, Draft, _file_headers, _file_headers_of, header_line,
                                      quoted_printable, text_body, write)

SEED = "0123456789abcdef01234567"
BOUNDARIES = (f"=_jcbot_{SEED}_0", f"=_jcbot_{SEED}_1")
DIGEST = "9f86d081884c7d659a2feaa0c55ad015"
TOKEN = "aebagbafaydqqcikbmga2dqpcaireeyu"
LONG_SUBJECT = ("[JC-MN] Proposed decision MN-P-2026-007: 太陽光発電の方法論 and the grid emission factor "
                "for the central energy system, second revision after the panel's comments")
PDF = bytes(range(256)) * 9


def stdlib(draft: Draft, boundaries=BOUNDARIES) -> str:
    """The message as compose.py built it before the writer: EmailMessage + WIRE, the reference."""
    msg = EmailMessage(policy=WIRE)
    for name, value in draft.headers:
        msg[name] = Address(value[0], addr_spec=value[1]) if isinstance(value, tuple) else value
    msg.set_content(draft.text)
    msg.add_alternative(draft.html, subtype="html")
    for a in draft.attachments:
        msg.add_attachment(a.data, maintype=a.maintype, subtype=a.subtype, filename=a.filename,
                           params=dict(a.params) or None)
    for i, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        part.set_boundary(boundaries[i])
    return msg.as_string(policy=WIRE)


def draft(name="Hanako Sato", subject="[JC-MN] Proposed decision MN-P-2026-007", text="Dear member,\n\nAFFIRM or OBJECT.\n",
          html="<p>Dear member,</p>\n", files=(), in_reply_to=None, committee="Japan-Mongolia Joint Committee") -> Draft:
    mid = f"<jcbot.distribution.{DIGEST}@jcm-mn.example.org>"
    headers = [("From", (committee, "jc@jcm-mn.example.org")), ("To", (name, "sato@example.org")),
               ("Subject", subject), ("Message-ID", mid)]
    varying = {"Message-ID": (DIGEST,)}
    if in_reply_to:
        headers += [("In-Reply-To", in_reply_to), ("References", f"{mid} {in_reply_to}")]
        varying["References"] = (DIGEST,)
    headers += [("Reply-To", f"jc-replies+{TOKEN}@jcm-mn.example.org"), ("Auto-Submitted", "auto-generated"),
                ("X-Auto-Response-Suppress", "OOF, AutoReply"), ("X-Jcbot-Notice", "distribution")]
    varying["Reply-To"] = (TOKEN,)
    return Draft(headers, text, html, list(files), varying)


def parsed(text: str) -> EmailMessage:
    return message_from_bytes(text.encode("ascii"), _class=EmailMessage, policy=default)


ICS = Attachment(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n", "text", "calendar", "MN-P-2026-007-deadline.ics",
                 (("method", "PUBLISH"), ("charset", "utf-8")))
CASES = {
    "ascii": draft(),
    "non-ascii name and subject": draft(name="Цэцэг Болд", subject="[JC-MN] 太陽光発電の方法論"),
    "long subject that folds": draft(subject=LONG_SUBJECT),
    "quoted name": draft(name='O\'Brien, Pat "JC" (host)'),
    "long name": draft(name="Bolormaa Tserendorj-Enkhbayar of the Ministry of Environment and Tourism of Mongolia"),
    "long lines and non-ascii text": draft(text="Réponse " * 40 + "\n" + "é\n" * 30, html="<p>" + "ü" * 200 + "</p>"),
    "threaded": draft(in_reply_to="<CAF=x+y/z@mail.gmail.com>"),
    "attachments": draft(files=[Attachment(PDF, "application", "pdf", "Methodology MN_AM007 ver01.0.pdf"), ICS]),
    "non-ascii long file name": draft(files=[Attachment(PDF[:100], "application", "pdf",
                                                        "報告書 of the Methodologies Panel, second meeting, annex 3.pdf")]),
    "empty bodies": draft(text="", html=""),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_writer_gives_the_bytes_emailmessage_gives(case):
    assert write(CASES[case], BOUNDARIES, (SEED,)) == stdlib(CASES[case])


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_stdlib_parser_reads_back_headers_parts_and_files(case):
    d = CASES[case]
    text = write(d, BOUNDARIES, (SEED,))
    assert text.isascii() and "\n" not in text.replace("\r\n", "")
    assert all(len(line) <= 998 for line in text.split("\r\n"))
    msg = parsed(text)
    values = dict(d.headers)
    assert msg["Subject"] == values["Subject"]
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == values["To"]
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == values["From"]
    # (the stdlib reads a Message-ID folded onto its own line with the fold's space: stripped)
    assert msg["Message-ID"].strip() == values["Message-ID"]
    assert [a.addr_spec for a in msg["Reply-To"].addresses] == [values["Reply-To"]]
    assert " ".join(str(msg.get("References", "")).split()) == values.get("References", "")
    # A body always ends with a line break on the wire.
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == d.text.removesuffix("\n") + "\n"
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == d.html.removesuffix("\n") + "\n"
    files = list(msg.iter_attachments())
    assert [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in files] == \
        [(a.filename, f"{a.maintype}/{a.subtype}", a.data) for a in d.attachments]
    for part, a in zip(files, d.attachments):
        assert [(k, part.get_param(k)) for k, _ in a.params] == list(a.params)
    assert msg.get_boundary() == BOUNDARIES[0]


def test_headers_with_a_varying_token_fold_as_the_stdlib_folds_them():
    # The shape of a value is folded once and the token put back: any length, any token.
    rnd = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    for _ in range(300):
        token = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 70)))
        domain = "x" * rnd.randint(1, 60) + ".example.org"
        for name, value in [("Reply-To", f"jc+{token}@{domain}"), ("Message-ID", f"<jcbot.reminder.{token}@{domain}>"),
                            ("References", f"<jcbot.distribution.{token}@{domain}> <a{token[:5]}@b.example>"),
                            ("Content-Type", f'multipart/mixed; boundary="=_jcbot_{token}_0"')]:
            assert header_line(name, value, (token,)) == WIRE.header_factory(name, value).fold(policy=WIRE), value


def test_a_token_that_is_not_alone_or_not_alphanumeric_is_folded_whole():
    value = "<jcbot.a.abc@abc.example>"
    assert header_line("Message-ID", value, ("abc",)) == WIRE.header_factory("Message-ID", value).fold(policy=WIRE)
    assert header_line("Subject", "a-b c", ("a-b",)) == "Subject: a-b c\r\n"


def test_a_header_with_a_line_break_is_refused_as_emailmessage_refuses_it():
    with pytest.raises(ValueError, match="linefeed"):
        write(draft(subject="Hello\r\nBcc: everyone@example.org"), BOUNDARIES)


@pytest.mark.parametrize("text, cte", [("plain\n", "7bit"), ("é\n", "quoted-printable"), ("x" * 100 + "\n", "quoted-printable"),
                                       ("太陽光" * 40, "base64"), ("", "7bit")])
def test_text_bodies_take_the_encoding_emailmessage_chooses(text, cte):
    msg = EmailMessage(policy=WIRE)
    msg.set_content(text)
    assert text_body(text) == (cte, msg.get_payload()) and msg["Content-Transfer-Encoding"] == cte


def test_quoted_printable_is_the_stdlibs_on_random_text():
    rng = random.Random(5)
    # Runs that matter: "=" near a soft break, white space ending a line at every room left,
    # bytes to escape (latin-1 as text_body gives them), every line break, lines of any length.
    pieces = ["a", "=", " ", "\t", "\n", "\r", "\r\n", "\xe9", "\xff", "\x00", "\x0b", "\x85", "x" * 70, "==", "~", "."]
    plain = [p for p in pieces if p.isascii() and p not in ("\x00", "\x0b")]  # only "=" to escape: the fast path
    for i in range(5000):
        body = "".join(rng.choice(plain if i % 2 else pieces) for _ in range(rng.randint(0, 60)))
        width = rng.choice([4, 5, 6, 76, 78])
        assert quoted_printable(body, width) == quoprimime.body_encode(body, width), repr(body)


def test_file_headers_folded_per_shape_of_name_are_the_stdlibs():
    rng = random.Random(8)
    pieces = ["JM", "P", "2026", "007", "-", "_", ".", " ", "deadline", "é", '"', "x", "Q9", "(", ",", "長い"]
    for _ in range(1500):
        name = "".join(rng.choice(pieces) for _ in range(rng.randint(1, rng.choice([6, 12, 30])))) + rng.choice([".ics", ".pdf", ""])
        kind, params = rng.choice([(("text", "calendar"), (("method", "PUBLISH"), ("charset", "utf-8"))),
                                   (("application", "pdf"), ())])
        expected = _file_headers_of(*kind, name, params)
        _file_headers_of.cache_clear()  # the shape, not the name, must come from the cache below
        assert _file_headers(*kind, name, params) == expected, name


def read_address(line: str) -> list[tuple[str, str]]:
    """The mailboxes the stdlib's parser reads in one folded address header (as a message's header)."""
    msg = message_from_bytes(line.encode("ascii") + b"\r\nbody", policy=default)
    name = line.split(":", 1)[0]
    return [(a.display_name, a.addr_spec) for a in msg[name].addresses]


def test_a_long_name_with_a_comma_keeps_its_quotes_when_folded():
    # Python 3.11's folding dropped the quotes here (CPython gh-80222): two addresses on the wire.
    name = "Tanaka, Hiroshi (Ministry of the Environment of Japan, Global Environment Bureau)"
    line = header_line("To", (name, "tanaka@env.example"))
    # One quoted-string a line: email.utils.getaddresses (the DKIM signer's From) misreads a fold inside one.
    assert line == ('To: "Tanaka, Hiroshi (Ministry of the Environment of Japan, Global"\r\n'
                    ' "Environment Bureau)" <tanaka@env.example>\r\n')
    assert read_address(line) == [(name, "tanaka@env.example")]


def test_a_name_the_stdlib_folds_right_keeps_the_stdlibs_bytes():
    for name in ["Hanako Sato", "Tanaka, Hiroshi", "Цэцэг Болд", 'O\'Brien, Pat "JC" (host)',
                 "Bolormaa Tserendorj-Enkhbayar of the Ministry of Environment and Tourism of Mongolia"]:
        stdlib_line = WIRE.header_factory("To", Address(name, addr_spec="a@b.example")).fold(policy=WIRE)
        assert header_line("To", (name, "a@b.example")) == stdlib_line


WORDS = ["Tanaka,", "Hiroshi", "(Ministry", "of", "Environment)", "Батбаяр,", "Ганзориг", "Nguyễn", '"Lan"', "\\",
         "<host>", "J.", "a@b", "x;y:z", "Dept.", "太陽光発電", "(JCM),", "'s", "=?utf-8?q?x?=", "Монголии"]


def test_any_long_name_reads_back_as_one_mailbox_in_lines_of_78():
    rnd = random.Random(5)
    for _ in range(60):
        name = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 25)))
        for header in ("To", "From"):
            line = header_line(header, (name, "member@env.example"))
            assert all(len(x) <= 78 for x in line.split("\r\n")), line
            [(display, spec)] = read_address(line)
            assert spec == "member@env.example"
            assert [a for _, a in getaddresses(message_from_bytes(line.encode() + b"\r\nx").get_all(header))] == \
                ["member@env.example"], line  # the legacy reader (the DKIM signer's From domain)
            # Exact, but where a run of non-ASCII words spans several encoded words: Python 3.11's
            # parser keeps the white space between two of them, which RFC 2047 6.2 says to drop
            # (CPython gh-128110); the encoded words themselves hold the name exactly (below).
            assert display == name or display.split() == name.split(), line


def test_a_long_run_of_non_ascii_words_is_encoded_words_that_decode_to_the_name():
    from email.header import decode_header

    name = "Батбаяр Ганзориг Энхтайваны, Монгол Улсын Байгаль орчин, аялал жуулчлалын яам"
    line = header_line("To", (name, "batbayar@mne.example"))
    assert all(len(x) <= 78 for x in line.split("\r\n")) and line.count("\r\n") > 1
    phrase = line.removeprefix("To:").replace("\r\n", "").removesuffix("<batbayar@mne.example>").strip()
    [(data, charset)] = decode_header(phrase)  # adjacent encoded words: one text, as RFC 2047 reads them
    assert (data.decode(charset), charset) == (name, "utf-8")
    [(display, spec)] = read_address(line)
    assert spec == "batbayar@mne.example" and display.split() == name.split()


def test_a_word_longer_than_a_line_stays_whole_and_one_longer_than_998_octets_is_encoded():
    name = "Secretariat," + "x" * 90 + " (JCM)"
    line = header_line("From", (name, "jc@jcm.example"))
    assert all(len(x) <= 998 for x in line.split("\r\n")) and line.count("\r\n") == 2
    assert read_address(line) == [(name, "jc@jcm.example")]
    name = "Secretariat," + "x" * 1200 + " (JCM)"
    line = header_line("From", (name, "jc@jcm.example"))
    assert all(len(x) <= 78 for x in line.split("\r\n"))
    [(display, spec)] = read_address(line)  # (white space between encoded words: gh-128110, above)
    assert spec == "jc@jcm.example" and display.replace(" ", "") == name.replace(" ", "")
