"""Rendering notices as emails: escaping, deadlines in two zones, stable ids, threading, tokens."""
from __future__ import annotations

import shutil
import stat
from email import message_from_bytes, message_from_string
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses

import pytest
from icalendar import Calendar

from jcbot.channels.email.compose import (
    KINDS,
    EmailRenderer,
    distribution_key,
    local_time,
    message_id,
    reply_secret,
)
from jcbot.channels.email.tokens import TokenClaims, read_token, token_from_address
from jcbot.resources import templates_dir
from jcbot.services.context import Notice, Recipient
from jcbot.settings import load_settings

COMMITTEE = {"id": 1, "slug": "japan-mongolia", "name": "Japan-Mongolia Joint Committee", "code": "MN",
             "timezone": "Asia/Ulaanbaatar", "host_country": "Mongolia"}
TEXT = 'The JC approves <script>alert("x")</script> & "quotes".\n\nSecond paragraph.'
PROPOSAL = {"id": 7, "ref": "MN-P-2026-007", "version": 2, "version_id": 12, "title": "Solar <PV> & grid",
            "text": TEXT, "items": [{"kind": "methodology_approval", "title": "Solar <PV>", "reference": "MN_AM007"}],
            "distributed_at": "2026-03-02T23:30:00+00:00", "deadline": "2026-03-23T16:00:00+00:00",
            "period_days": 20, "status": "open"}
SATO = Recipient("sato", "Hanako Sato", 3, "sato@example.org", None, "America/New_York")
EXTRA = {
    "assertion": {"position": "negative", "opinion": "Too high <b>really</b>", "at": "2026-03-05T01:00:00+00:00",
                  "member": "sato", "member_name": "Hanako Sato", "channel": "email", "ignored": False,
                  "within_period": True},
    "decision": {"number": "MN-2026-004", "basis": "unanimous", "adopted_at": "2026-03-06T00:00:00+00:00",
                 "title": "Solar <PV> & grid", "items": PROPOSAL["items"]},
    "note": "See the meeting.", "reason": "the first line is unclear", "show_forms": True, "answerable": True,
    "original_subject": "Re: [JC-MN] Proposed decision", "in_reply_to": "<member-reply@example.org>",
    "lines": ["MN-P-2026-007: 3 days left"], "subject": None,
    "days_before": 3, "awaiting": ["sato"], "seat": "host", "period_over": False,
    "expert": {"name": "Dr. <Enkh>", "email": "enkh@panel.example", "panel": "Methodologies Panel",
               "page_url": "https://jc.example/expert/TOKEN"},
    "comment": {"text": "Leakage <too low>", "at": "2026-03-05T02:00:00+00:00", "version": 1},
}


@pytest.fixture
def settings(tmp_path):
    env = {"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_MAIL_FROM": "jc@jcm-mn.example.org",
           "JCBOT_SECRET": "unit-test secret for compose"}
    return load_settings(env=env, dotenv=None)


@pytest.fixture
def renderer(settings):
    return EmailRenderer(settings, strict=True)


def notice(kind: str, to: Recipient = SATO, **data) -> Notice:
    payload = {"committee": COMMITTEE, "proposal": PROPOSAL, **EXTRA, **data}
    return Notice(kind, f"{kind}:{PROPOSAL['version_id']}:{to.handle}", to, payload, 1, 7, ("email",))


def render(renderer, n: Notice) -> tuple[str, EmailMessage]:
    [row] = renderer.render(n)
    text = row.payload["message"]
    return text, message_from_string(text.replace("\r\n", "\n"), _class=EmailMessage, policy=default)


def test_html_part_escapes_the_proposal_and_text_part_keeps_it(renderer):
    _, msg = render(renderer, notice("distribution"))
    html = msg.get_body(("html",)).get_content()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert "<script>" not in html and "Solar &lt;PV&gt; &amp; grid" in html
    plain = msg.get_body(("plain",)).get_content()
    assert TEXT in plain and "Solar <PV> & grid" in plain


def test_deadline_in_the_members_zone_and_the_committees(renderer):
    _, msg = render(renderer, notice("distribution"))
    plain = msg.get_body(("plain",)).get_content()
    # New York is on daylight saving time since 8 March 2026: EDT, UTC-04:00.
    assert "Monday 23 March 2026, 12:00 EDT (America/New_York, UTC-04:00) - your time zone" in plain
    assert "Tuesday 24 March 2026, 00:00 (Asia/Ulaanbaatar, UTC+08:00) - the committee's time zone" in plain


@pytest.mark.parametrize("instant, zone, shown", [
    ("2026-03-08T06:59:59+00:00", "America/New_York", "Sunday 8 March 2026, 01:59 EST (America/New_York, UTC-05:00)"),
    ("2026-03-08T07:00:00+00:00", "America/New_York", "Sunday 8 March 2026, 03:00 EDT (America/New_York, UTC-04:00)"),
    ("2026-10-25T00:30:00+00:00", "Europe/Berlin", "Sunday 25 October 2026, 02:30 CEST (Europe/Berlin, UTC+02:00)"),
    ("2026-10-25T01:30:00+00:00", "Europe/Berlin", "Sunday 25 October 2026, 02:30 CET (Europe/Berlin, UTC+01:00)"),
    ("2026-03-23T16:00:00+00:00", "Asia/Ulaanbaatar", "Tuesday 24 March 2026, 00:00 (Asia/Ulaanbaatar, UTC+08:00)"),
    ("2026-03-23T16:00:00+00:00", None, "Monday 23 March 2026, 16:00 (UTC, UTC+00:00)"),
])
def test_local_time_names_the_offset_across_dst(instant, zone, shown):
    assert local_time(instant, zone) == shown


def test_member_in_the_committees_zone_sees_one_line(renderer):
    same = Recipient("bold", "Bold", 4, "bold@example.org", None, "Asia/Ulaanbaatar")
    _, msg = render(renderer, notice("distribution", same))
    plain = msg.get_body(("plain",)).get_content()
    assert "(Asia/Ulaanbaatar, UTC+08:00) - your time zone and the committee's" in plain
    assert plain.count("UTC+08:00)") == 1


def test_message_id_is_stable_per_notice(renderer, settings):
    first, second = (render(renderer, notice("distribution"))[1] for _ in range(2))
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].strip().endswith("@jcm-mn.example.org>")
    other = render(renderer, notice("distribution", Recipient("bold", "Bold", 4, "b@example.org")))[1]
    assert other["Message-ID"] != first["Message-ID"]
    # Another installation (another secret) sending from the same domain never collides.
    key = distribution_key(12, "sato")
    assert message_id(b"secret one", key, "d.org") != message_id(b"secret two", key, "d.org")
    assert message_id(b"secret one", key, "d.org") == message_id(b"secret one", key, "d.org")


def test_later_notices_thread_under_the_members_distribution(renderer):
    _, dist = render(renderer, notice("distribution", in_reply_to=None))
    _, conf = render(renderer, notice("confirmation", in_reply_to=None))
    assert dist["In-Reply-To"] is None
    assert conf["In-Reply-To"] == dist["Message-ID"] and conf["References"] == dist["Message-ID"]
    _, refusal = render(renderer, notice("refusal"))
    assert refusal["In-Reply-To"].strip() == "<member-reply@example.org>"
    assert refusal["References"].split() == [dist["Message-ID"].strip(), "<member-reply@example.org>"]


@pytest.mark.parametrize("kind, answerable", [
    ("distribution", True), ("reminder", True), ("seat_reminder", True), ("confirmation", True), ("refusal", True),
    ("escalation", False), ("adoption", False), ("withdrawn", False), ("lapse", False),
])
def test_reply_to_carries_the_members_token_only_where_an_answer_is_expected(renderer, settings, kind, answerable):
    _, msg = render(renderer, notice(kind))
    assert msg["Auto-Submitted"] == ("auto-replied" if kind == "refusal" else "auto-generated")
    if not answerable:
        assert msg["Reply-To"] is None
        return
    address = msg["Reply-To"].addresses[0].addr_spec
    claims = read_token(reply_secret(settings), token_from_address(address, "jc"))
    assert claims == TokenClaims(7, 2, 3)


def test_refusal_to_someone_who_is_not_the_member_has_no_token(renderer):
    stranger = Recipient("email:x@evil.example", "x@evil.example", None, "x@evil.example")
    _, msg = render(renderer, Notice("refusal", "refusal:abc", stranger, {"reason": "no", "show_forms": False}))
    assert msg["Reply-To"] is None and "[jcbot] Not recorded" in msg["Subject"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_text_and_html(renderer, kind):
    text, msg = render(renderer, notice(kind))
    assert text.isascii()  # 7-bit on the wire: any SMTP server takes it
    assert msg.get_body(("plain",)).get_content().startswith("Dear Hanako Sato,")
    assert "<p>Dear Hanako Sato,</p>" in msg.get_body(("html",)).get_content()
    assert msg["Subject"] and msg["X-Jcbot-Notice"] == kind


def test_distribution_carries_the_deadline_as_icalendar(renderer):
    _, msg = render(renderer, notice("distribution"))
    [ics] = [p for p in msg.iter_attachments() if p.get_content_type() == "text/calendar"]
    event = next(c for c in Calendar.from_ical(ics.get_content()).walk() if c.name == "VEVENT")
    assert event.decoded("dtstart").isoformat() == "2026-03-23T16:00:00+00:00"
    assert int(event["sequence"]) == 2 and str(event["uid"]) == "jcbot-proposal-7-deadline@jcm-mn.example.org"
    _, conf = render(renderer, notice("confirmation"))
    assert not list(conf.iter_attachments())


def test_non_ascii_names_and_titles_survive(renderer):
    mongol = Recipient("bold", "Цэцэг Болд", 4, "bold@example.org", None, None)
    _, msg = render(renderer, notice("distribution", mongol, proposal={**PROPOSAL, "title": "太陽光発電の方法論"}))
    assert msg["To"].addresses[0].display_name == "Цэцэг Болд"
    assert "太陽光発電の方法論" in msg["Subject"] and "太陽光発電の方法論" in msg.get_body(("plain",)).get_content()


def test_no_email_address_no_email(renderer):
    assert renderer.render(notice("distribution", Recipient("smith", "Smith", 5, None))) == []


def test_development_secret_is_made_once_and_kept(tmp_path):
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path)}, dotenv=None)
    first = reply_secret(settings)
    assert len(first) == 64 and reply_secret(settings) == first
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    assert EmailRenderer(settings).secret == first


def test_reply_address_with_a_plus_is_refused(tmp_path):
    # Refused when the settings are read, before any message is rendered.
    from jcbot.settings import SettingsError

    with pytest.raises(SettingsError, match="JCBOT_REPLY_ADDRESS"):
        load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_REPLY_ADDRESS": "jc+x@example.org"}, dotenv=None)


def test_a_broken_template_falls_back_to_the_generic_form(tmp_path):
    env = {"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_MAIL_FROM": "jc@jcm-mn.example.org",
           "JCBOT_SECRET": "unit-test secret for compose"}
    own = tmp_path / "templates"
    shutil.copytree(templates_dir(), own)
    (own / "email" / "adoption.txt").write_text('{% extends "base.txt" %}{% block subject %}{{ 1 / 0 }}{% endblock %}')
    settings = load_settings(env={**env, "JCBOT_TEMPLATES_DIR": str(own)}, dotenv=None)  # as in .env
    # An adoption must be recorded even if its email template is broken: the email goes out plainly.
    _, msg = render(EmailRenderer(settings), notice("adoption"))
    assert msg["Subject"] == "[jcbot] Adoption: MN-P-2026-007: Solar <PV> & grid"
    assert msg["X-Jcbot-Notice"] == "adoption" and "MN-P-2026-007" in msg.get_body(("plain",)).get_content()
    with pytest.raises(ZeroDivisionError):
        EmailRenderer(settings, strict=True).render(notice("adoption"))


def test_reminder_says_how_long_before_the_deadline(renderer):
    _, msg = render(renderer, notice("reminder"))
    assert "(3 days before the deadline)" in msg.get_body(("plain",)).get_content().replace("\n", " ")
    assert [p.get_content_type() for p in msg.iter_attachments()] == ["text/calendar"]


@pytest.mark.parametrize("kind, subject", [
    ("digest", "[jcbot] Pending proposals, 2026-03-05"),
    ("duty", "[jcbot] For the co-chairs: cochair term ending"),
])
def test_digest_and_duty_render_their_lines(renderer, kind, subject):
    # The shape jcbot.services.reminders gives them: a committee without code, lines, no proposal.
    staff = Recipient("secretariat:1", "JC Secretariat", None, "secretariat@example.org")
    data = {"committee": {"slug": "japan-mongolia", "name": "Japan-Mongolia Joint Committee",
                          "timezone": "Asia/Ulaanbaatar"},
            "lines": ["MN-P-2026-007 Solar <PV>: open, 3.0 days left"], "date": "2026-03-05",
            "duty": "cochair_term_ending"}
    _, msg = render(renderer, Notice(kind, f"{kind}:1:2026-03-05:secretariat:1", staff, data, 1))
    assert msg["Subject"] == subject and msg["Reply-To"] is None and msg["In-Reply-To"] is None
    assert "MN-P-2026-007 Solar <PV>: open, 3.0 days left" in msg.get_body(("plain",)).get_content()
    assert "Solar &lt;PV&gt;" in msg.get_body(("html",)).get_content()


def test_unknown_kind_is_sent_in_the_generic_form(renderer):
    _, msg = render(renderer, notice("meeting_flag", lines=["No meeting for a year."]))
    assert "No meeting for a year." in msg.get_body(("plain",)).get_content()


# Members' and committees' names as the Joint Committees write them: "Surname, Given name
# (Ministry...)", long enough that the header folds, with commas, parentheses, quotes, a
# backslash and non-ASCII letters. On Python 3.11 the stdlib's folding dropped the quotes
# of such a name (CPython gh-80222) and read a stray space between encoded words (gh-128110).
LONG_NAMES = [
    "Tanaka, Hiroshi (Ministry of the Environment of Japan, Global Environment Bureau)",
    "Батбаяр, Ганзориг (Ministry of Environment and Tourism of Mongolia, Climate Change Department)",
    'Nguyễn, Thị "Lan" (Ministry of Natural Resources and Environment of Viet Nam; Dept. of Climate Change)',
    'O\'Brien, Pat "JC" \\ <host> of the Secretariat of the Japan-Mongolia Joint Committee, Tokyo: office',
]
LONG_COMMITTEES = [
    'Joint Committee (JCM) of Japan and the Republic of the Philippines, "Manila", Secretariat: Office',
    "Japan-Mongolia Joint Committee (Монгол Улс), Secretariat of the JCM, \"Ministry\" office, Ulaanbaatar",
]


@pytest.mark.parametrize("kind", ["distribution", "confirmation", "escalation"])
@pytest.mark.parametrize("name, committee", list(zip(LONG_NAMES, LONG_COMMITTEES * 2)),
                         ids=["tanaka", "mongolian", "vietnamese", "quotes-backslash-angles"])
def test_long_names_with_commas_and_quotes_stay_one_address(renderer, kind, name, committee):
    member = Recipient("tanaka", name, 3, "tanaka@env.example", None, "Asia/Tokyo")
    n = notice(kind, member, committee={**COMMITTEE, "name": committee})
    [row] = renderer.render(n)
    raw = row.payload["message"].encode("ascii")
    msg = message_from_bytes(raw, policy=default)
    [to] = msg["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, "tanaka@env.example")
    [sender] = msg["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (committee, "jc@jcm-mn.example.org")
    if kind == "escalation":
        assert msg["Reply-To"] is None
    else:
        [reply] = msg["Reply-To"].addresses
        assert reply.display_name == "" and read_token(reply_secret(renderer.settings),
                                                       token_from_address(reply.addr_spec, "jc")) == TokenClaims(7, 2, 3)
    # The legacy reader too (DKIM signing takes the From domain from it; mail tools use it).
    legacy = message_from_bytes(raw)
    assert [spec for _, spec in getaddresses(legacy.get_all("To"))] == ["tanaka@env.example"]
    assert [spec for _, spec in getaddresses(legacy.get_all("From"))] == ["jc@jcm-mn.example.org"]
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert all(len(line) <= 78 for line in head), [line for line in head if len(line) > 78]
    fields = [line.split(b":", 1)[0] for line in head if line[:1] not in (b" ", b"\t")]
    assert fields.count(b"To") == fields.count(b"From") == 1
    to_lines = head[head.index(next(x for x in head if x.startswith(b"To:"))):]
    assert to_lines[1][:1] == b" "  # folded: the value is longer than a line
