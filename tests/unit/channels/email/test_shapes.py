"""A fan-out's emails from one rendered shape: byte for byte the emails rendered whole, member by member."""
from __future__ import annotations

from dataclasses import replace

import pytest
from jinja2 import DictLoader, Environment, select_autoescape

from jcbot.channels.email.compose import KINDS, EmailRenderer
from jcbot.channels.email.shapes import Shapes
from jcbot.services.context import Notice, Recipient
from jcbot.settings import load_settings

from .test_compose import COMMITTEE, EXTRA, PROPOSAL

DOCUMENTS = [
    {"sha256": "ab" * 32, "name": "PDD <draft> & annex.pdf", "media_type": "application/pdf", "size": 120_000,
     "visibility": "confidential", "pages": 12, "sheets": None},
    {"sha256": "cd" * 32, "name": "Calculation.xlsx", "media_type": "application/vnd.ms-excel", "size": 3000,
     "visibility": "public", "pages": None, "sheets": ["Inputs", "Results"]},
]
# Names that escaping, folding and quoting treat differently; a blank one; two members share a name.
MEMBERS = [
    Recipient("sato", "Hanako Sato", 3, "sato@example.org", None, "America/New_York"),
    Recipient("bold", "Цэцэг Болд", 4, "bold@example.org", None, None),
    Recipient("obrien", "O'Brien & <Sons> \"JC\"", 5, "obrien@example.org", None, "Asia/Tokyo"),
    Recipient("blank", "", 6, "blank@example.org", None, None),
    Recipient("long", "Surname, Given name (Ministry of the Environment, Climate Change Division)  x", 7,
              "long@example.org", None, "Asia/Ulaanbaatar"),
    Recipient("twin", "Hanako Sato", 8, "twin@example.org", None, "America/New_York"),
    Recipient("nul", "A\x00B &amp; \x01", 9, "nul@example.org", None, None),
]


@pytest.fixture(autouse=True)
def one_second(monkeypatch):
    """Action links carry the second they were signed: both renders of an email sign in the same one."""
    from itsdangerous.timed import TimestampSigner

    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_772_000_000)


def settings_for(tmp_path, **more):
    env = {"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_MAIL_FROM": "jc@jcm-mn.example.org",
           "JCBOT_SECRET": "unit-test secret for shapes", "JCBOT_PUBLIC_URL": "https://jc.example/",
           "JCBOT_EMAIL_ATTACH_MAX_BYTES": "0", **more}
    return load_settings(env=env, dotenv=None)


def fan_out(kind: str, **data) -> list[Notice]:
    payload = {"committee": COMMITTEE, "proposal": PROPOSAL, **EXTRA, "documents": DOCUMENTS, **data}
    return [Notice(kind, f"{kind}:{PROPOSAL['version_id']}:{to.handle}", to,
                   {**payload, "recipient": {"handle": to.handle, "member_id": to.member_id, "name": to.name,
                                             "timezone": to.timezone}}, 1, 7, ("email",))
            for to in MEMBERS]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_fan_out_from_its_shapes_equals_each_email_rendered_whole(tmp_path, kind):
    settings = settings_for(tmp_path)
    shaped, whole = EmailRenderer(settings, strict=True), EmailRenderer(settings, strict=True)
    whole.shapes = None
    for _ in range(2):  # the shape is learnt at its second email and filled in after
        for n in fan_out(kind):
            assert shaped.compose(n) == whole.compose(n), n.recipient
    # The members' texts did come from a rendered shape (a fan-out with no shape would pass unnoticed).
    assert any(shaped.shapes.kept.values())


def test_a_fan_out_of_several_shapes_and_a_member_with_no_link_equals_the_whole_render(tmp_path):
    settings = settings_for(tmp_path)
    shaped, whole = EmailRenderer(settings, strict=True), EmailRenderer(settings, strict=True)
    whole.shapes = None
    notices = fan_out("distribution") + fan_out("reminder", show_forms=False) \
        + [replace(n, recipient=replace(n.recipient, member_id=None)) for n in fan_out("distribution")]
    for n in notices + notices[::-1]:
        assert shaped.compose(n) == whole.compose(n)
    assert sum(1 for s in shaped.shapes.kept.values() if s) >= 3


def test_templates_from_the_settings_are_rendered_whole(tmp_path):
    own = tmp_path / "templates"
    own.mkdir()
    assert EmailRenderer(settings_for(tmp_path, JCBOT_TEMPLATES_DIR=str(own))).shapes is None
    assert EmailRenderer(settings_for(tmp_path)).shapes is not None


# Templates that look inside a member's text: each such shape is rendered whole every time.
LOOKING = {
    "length": "{% if recipient.name | length > 12 %}long{% else %}short{% endif %} {{ recipient.name }}",
    "index": "{{ recipient.name[1] }}.{{ recipient.name }}",
    "last": "{{ recipient.name[-2:] }}",
    "upper": "{{ recipient.name | upper }}",
    "replace": "{{ recipient.name | replace(' ', '_') }}",
    "truncate": "{{ recipient.name | truncate(9, True, '') }}",
    "urlencode": "<a href='/{{ recipient.name | urlencode }}'>{{ recipient.name }}</a>",
    "words": "{{ recipient.name.split() | first }}",
}


@pytest.mark.parametrize("name", sorted(LOOKING))
def test_a_template_that_looks_inside_a_members_text_is_rendered_whole(name):
    env = Environment(loader=DictLoader({"t.html": LOOKING[name], "t.txt": LOOKING[name]}),
                      autoescape=select_autoescape(["html"]))

    def raw(kind, values):
        return (env.get_template("t.txt").render(values), env.get_template("t.txt").render(values),
                env.get_template("t.html").render(values))

    shapes = Shapes(raw)
    for who in MEMBERS * 2:
        values = {"recipient": who, "answer_to": None}
        assert shapes.render("t", values) == raw("t", values), who
    # Learnt: only shapes with no stand-in in their output (the blank name), or none at all.
    assert shapes.kept and all(not any(holes for _, holes in s) for s in shapes.kept.values())


def test_a_stand_in_character_in_the_shared_values_renders_whole(tmp_path):
    settings = settings_for(tmp_path)
    shaped, whole = EmailRenderer(settings, strict=True), EmailRenderer(settings, strict=True)
    whole.shapes = None
    for n in fan_out("distribution") * 2:
        assert shaped.compose(n) == whole.compose(n)
    learnt = dict(shaped.shapes.kept)
    assert any(learnt.values())
    for odd in ({**PROPOSAL, "title": "Solar \x00a&\x00 grid"}, {**PROPOSAL, "text": "x\x01\x01k<\x01\x01"}):
        for n in fan_out("distribution", proposal=odd) * 2:
            assert shaped.compose(n) == whole.compose(n)
    assert shaped.shapes.kept == learnt  # nothing learnt from those


def test_a_fan_out_in_one_zone_renders_its_templates_three_times(tmp_path):
    # Once whole for the first member, twice (both sets of stand-ins) for the second; then filled in.
    settings = settings_for(tmp_path)
    shaped, whole = EmailRenderer(settings, strict=True), EmailRenderer(settings, strict=True)
    whole.shapes = None
    renders = []
    shaped.shapes.raw = lambda kind, values: renders.append(kind) or shaped._templates(kind, values)
    members = [Recipient(f"m{i}", f"Member {'&' * i} Nº{i}", 10 + i, f"m{i}@example.org", None, None)
               for i in range(20)]
    base = fan_out("distribution")[0]
    for to in members:
        n = replace(base, key=f"distribution:12:{to.handle}", recipient=to,
                    data={**base.data, "recipient": {"handle": to.handle, "member_id": to.member_id,
                                                     "name": to.name, "timezone": None}})
        assert shaped.compose(n) == whole.compose(n)
    assert renders == ["distribution"] * 3
