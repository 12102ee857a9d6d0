"""Distribution emails carry the version's documents: public ones attached under the limit, the rest as links.

Parsed back as MIME, the way the member's mail program reads them; the links are opened
with the app's own check (jcbot.downloads), on SQLite and PostgreSQL.
"""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from jcbot.app import build_context
from jcbot.channels.email.compose import EmailRenderer
from jcbot.clock import ManualClock
from jcbot.downloads import DownloadLinkError, read_token
from jcbot.secret import app_secret
from jcbot.services import assertions, proposals
from jcbot.services.documents import Upload
from tests.integration.email.mailtest import T0, create_committee, parsed
from tests.integration.email.mailtest import make_settings
from tests.integration.email.mailtest import Committee as Jc
from tests.support.documents import pdf

PUBLIC = pdf(2, "PDD MN015 public version")
CONFIDENTIAL = pdf(3, "PDD MN015 complete, confidential")
BIG = pdf(1, "Validation report " + "x" * 200)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def committee_with_documents(tmp_path, db_url, uploads, **extra) -> Jc:
    clock = ManualClock(T0 - timedelta(days=1))
    settings = make_settings(tmp_path, db_url, **extra)
    ctx = build_context(settings, clock)
    ctx.renderers = [EmailRenderer(settings, strict=True, engine=ctx.engine)]
    members = create_committee(ctx, clock)
    clock.set(T0)
    items = [proposals.Item("project_registration", "Registration of MN015")]
    p = proposals.draft(ctx, "japan-mongolia", "Registration of MN015", "The JC registers MN015.", items, "test",
                        uploads=uploads)
    v = proposals.distribute(ctx, p.ref, "test", by="tanaka")
    return Jc(ctx, clock, p.ref, p.id, v.id, members)


@pytest.fixture
def jc(tmp_path, db_url):
    made = committee_with_documents(tmp_path, db_url, [Upload("MN015_PDD_public.pdf", PUBLIC),
                                                      Upload("MN015_PDD_full.pdf", CONFIDENTIAL, "confidential")])
    yield made
    made.ctx.engine.dispose()


def distribution_to(jc: Jc, handle: str):
    [row] = [r for r in jc.outbox("distribution") if r.recipient == jc.members[handle].email]
    return parsed(row)


def links_in(text: str) -> list[str]:
    return re.findall(r"https://jcbot\.example\.org/documents/[0-9a-f]{64}\?t=\S+", text)


def test_public_document_is_attached_and_the_confidential_one_is_a_link(jc):
    msg = distribution_to(jc, "sato")
    files = {p.get_filename(): p for p in msg.iter_attachments()}
    assert set(files) == {"MN015_PDD_public.pdf", "RFC-deadline.ics".replace("RFC", jc.ref)}
    part = files["MN015_PDD_public.pdf"]
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PUBLIC  # the very bytes members assert on
    text = msg.get_body(("plain",)).get_content()
    for name, data in (("MN015_PDD_public.pdf", PUBLIC), ("MN015_PDD_full.pdf", CONFIDENTIAL)):
        assert name in text and sha(data) in text and f"{len(data)} bytes" in text
    assert "2 pages" in text and "3 pages" in text
    assert "Confidential documents are never attached" in text
    html = msg.get_body(("html",)).get_content()
    assert sha(CONFIDENTIAL) in html and "MN015_PDD_full.pdf" in html
    # Each document has the member's own link; the confidential one is only a link.
    urls = links_in(text)
    assert len(urls) == 2
    secret = app_secret(jc.ctx.settings)
    for url in urls:
        parts = urlsplit(url)
        claim = read_token(secret, unquote(parse_qs(parts.query)["t"][0]), parts.path.rsplit("/", 1)[1], T0)
        assert claim.recipient == f"member:{jc.members['sato'].id}"
        assert claim.expires == (T0 + timedelta(days=30)).replace(microsecond=0)
    with pytest.raises(DownloadLinkError, match="expired"):
        token = unquote(parse_qs(urlsplit(urls[1]).query)["t"][0])
        read_token(secret, token, sha(CONFIDENTIAL), T0 + timedelta(days=31))


def test_links_are_per_member_and_the_render_is_the_same_twice(jc):
    first, again = distribution_to(jc, "sato"), distribution_to(jc, "sato")
    assert first.as_bytes() == again.as_bytes()  # same notice, same message (Message-ID, links, parts)
    other = distribution_to(jc, "bold")
    assert set(links_in(first.get_body(("plain",)).get_content())).isdisjoint(
        links_in(other.get_body(("plain",)).get_content()))


def test_documents_over_the_total_limit_are_links(tmp_path, db_url):
    jc = committee_with_documents(tmp_path, db_url, [Upload("a.pdf", PUBLIC), Upload("b.pdf", BIG)],
                                  JCBOT_EMAIL_ATTACH_MAX_BYTES=str(len(PUBLIC) + len(BIG) - 1))
    try:
        msg = distribution_to(jc, "sato")
        names = [p.get_filename() for p in msg.iter_attachments()]
        assert "a.pdf" in names and "b.pdf" not in names  # in order, while the total fits
        text = msg.get_body(("plain",)).get_content()
        assert sha(BIG) in text and len(links_in(text)) == 2
    finally:
        jc.ctx.engine.dispose()


def test_the_confirmation_repeats_the_hashes_asserted_on(jc):
    assertions.record_assertion(jc.ctx, jc.ref, "sato", "affirmative", channel="email", evidence_key="e1", actor="t")
    [row] = [r for r in jc.outbox("confirmation")]
    text = parsed(row).get_body(("plain",)).get_content()
    assert sha(PUBLIC) in text and sha(CONFIDENTIAL) in text
    assert "You asserted on the documents with these SHA-256 hashes" in text


def test_slack_gets_every_document_as_the_members_link(jc):
    from dataclasses import replace

    from jcbot.channels.slack.compose import SlackRenderer
    from jcbot.services import outgoing
    from jcbot.store.db import session_scope
    from jcbot.store.outbox import OutboxMessage
    from sqlmodel import select

    with session_scope(jc.ctx.engine) as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "distribution")).all()
        notice = next(n for n in map(lambda r: outgoing.from_payload(r.payload), rows)
                      if n.recipient.handle == "sato")
    notice = replace(notice, recipient=replace(notice.recipient, slack_user_id="USATO"))
    [call] = SlackRenderer(jc.ctx.settings).render(notice)
    text = str(call.payload)
    for data in (PUBLIC, CONFIDENTIAL):
        assert sha(data) in text
    urls = re.findall(r"<(https://jcbot\.example\.org/documents/[^|>]+)\|", text)
    assert len(urls) == 2 and all(u in text for u in links_in(distribution_to(jc, "sato").get_body(("plain",))
                                                             .get_content()))
