"""The test services really work: each fixture is exercised with the client jcbot uses."""

from __future__ import annotations

import imaplib
from email.message import EmailMessage

import aiosmtplib
import psycopg
import pytest
import sqlalchemy as sa
from aioimaplib import IMAP4
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

RAW_MAIL = (b"From: Alice <alice@example.org>\r\nTo: jcbot@example.org\r\n"
            b"Subject: Re: [JC-1] decision 7\r\nMessage-ID: <m1@example.org>\r\n\r\nI agree.\r\n")


# -- PostgreSQL ------------------------------------------------------------------------

@pytest.mark.postgres
def test_postgres_fresh_database_answers_queries(postgres_server):
    name = postgres_server.create_database()
    with psycopg.connect(postgres_server.dsn(name)) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        # Fresh: no tables of a previous test.
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                            ).fetchone() == (0,)
    assert postgres_server.url(name).startswith("postgresql+psycopg://")


def test_db_url_is_an_empty_working_database(db_url):
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            assert sa.inspect(conn).get_table_names() == []
            conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            conn.execute(sa.text("INSERT INTO t (id, v) VALUES (1, 'x')"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT v FROM t")).scalar_one() == "x"
    finally:
        engine.dispose()


# -- Dovecot IMAP ----------------------------------------------------------------------

@pytest.mark.dovecot
def test_imaplib_sees_appended_message(dovecot_server, imap_user):
    uid = dovecot_server.append(imap_user.username, RAW_MAIL)
    assert uid == 1
    conn = imaplib.IMAP4(dovecot_server.host, dovecot_server.port)
    try:
        conn.login(imap_user.username, imap_user.password)
        conn.select("INBOX")
        _, found = conn.search(None, "SUBJECT", '"decision 7"')
        assert found[0] == b"1"
        _, data = conn.fetch(b"1", "(RFC822)")
        assert data[0][1] == RAW_MAIL
    finally:
        conn.logout()


@pytest.mark.dovecot
async def test_aioimaplib_sees_appended_message(dovecot_server, imap_user):
    dovecot_server.append(imap_user.username, RAW_MAIL.replace(b"\r\n", b"\n"))  # LF .eml ok
    client = IMAP4(host=dovecot_server.host, port=dovecot_server.port, timeout=10)
    await client.wait_hello_from_server()
    assert (await client.login(imap_user.username, imap_user.password)).result == "OK"
    await client.select("INBOX")
    search = await client.uid_search("UNSEEN")
    assert search.lines[0].split() == [b"1"]
    fetched = await client.uid("fetch", "1", "(BODY.PEEK[])")
    assert b"I agree." in bytes(fetched.lines[1])
    await client.logout()
    assert [flags for flags, _ in dovecot_server.fetch_all(imap_user.username)] == [b""]


@pytest.mark.dovecot
def test_dovecot_refuses_a_wrong_password(dovecot_server):
    conn = imaplib.IMAP4(dovecot_server.host, dovecot_server.port)
    with pytest.raises(imaplib.IMAP4.error):
        conn.login(dovecot_server.user.username, "wrong")
    conn.shutdown()


@pytest.mark.dovecot
def test_dovecot_user_added_while_running_can_log_in(dovecot_server):
    late = dovecot_server.add_user("latecomer")
    conn = imaplib.IMAP4(dovecot_server.host, dovecot_server.port)
    assert conn.login(late.username, late.password)[0] == "OK"
    conn.logout()


# -- SMTP ------------------------------------------------------------------------------

def _mail(subject: str = "Proposed decision 7") -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "jcbot@example.org", "alice@example.org", subject
    msg.set_content("Please assert by 2024-05-01.")
    return msg


async def test_smtp_records_sent_message(smtp_server):
    await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port,
                          username=smtp_server.username, password=smtp_server.password)
    [got] = await smtp_server.wait_for_async(1)
    assert got.mail_from == "jcbot@example.org"
    assert got.rcpt_tos == ["alice@example.org"]
    assert got.message["Subject"] == "Proposed decision 7"
    assert got.message.get_content().strip() == "Please assert by 2024-05-01."
    assert got.auth_user == smtp_server.username
    assert b"Subject: Proposed decision 7" in got.data


async def test_smtp_temporary_refusal_raises_then_accepts(smtp_server):
    smtp_server.refuse(421)
    with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
        await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port)
    assert refused.value.code == 421
    assert smtp_server.messages == []
    await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port)
    assert len(smtp_server.wait_for(1)) == 1
    assert smtp_server.attempts == 2


async def test_smtp_permanent_refusal_of_recipient(smtp_server):
    smtp_server.refuse(550, stage="RCPT")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(_mail(), hostname=smtp_server.host, port=smtp_server.port)
    assert refused.value.recipients[0].code == 550


# -- fake Slack Web API ----------------------------------------------------------------

async def test_fake_slack_records_post_message(fake_slack):
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.base_url)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Decision 7*"}}]
    resp = await client.chat_postMessage(channel="C123", text="Decision 7", blocks=blocks)
    assert resp["ok"] and resp["channel"] == "C123" and resp["ts"]
    [call] = fake_slack.calls("chat.postMessage")
    assert call.body["text"] == "Decision 7"
    assert call.body["blocks"] == blocks
    assert call.token == "xoxb-test"
    assert call.headers["content-type"].startswith("application/json")


async def test_fake_slack_answers_like_slack(fake_slack):
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.base_url)
    assert (await client.auth_test())["user_id"]
    fake_slack.add_user("U1", "alice@example.org", "Alice")
    assert (await client.users_lookupByEmail(email="alice@example.org"))["user"]["id"] == "U1"
    assert (await client.users_info(user="U1"))["user"]["profile"]["email"] == "alice@example.org"
    dm = await client.conversations_open(users="U1")
    assert dm["channel"]["id"].startswith("D")
    view = {"type": "modal", "callback_id": "negative",
            "title": {"type": "plain_text", "text": "Reason"}, "blocks": []}
    opened = await client.views_open(trigger_id="123.456", view=view)
    assert opened["view"]["id"] and opened["view"]["callback_id"] == "negative"
    assert fake_slack.calls("views.open")[0].body["view"] == view
    published = await client.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert published["view"]["type"] == "home"
    # Form-encoded bodies (the default of api_call with data=) are parsed too.
    await client.api_call("chat.postMessage", data={"channel": "C9", "text": "form"})
    assert fake_slack.calls("chat.postMessage")[-1].body == {"channel": "C9", "text": "form"}


async def test_fake_slack_rate_limit_then_success(fake_slack):
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.base_url)
    fake_slack.rate_limit_next("chat.postMessage", retry_after=3)
    with pytest.raises(SlackApiError) as limited:
        await client.chat_postMessage(channel="C1", text="hi")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "3"
    assert limited.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel="C1", text="hi"))["ok"]
    assert len(await fake_slack.wait_for_async("chat.postMessage", 2)) == 2


async def test_fake_slack_scripted_error(fake_slack):
    client = AsyncWebClient(token="xoxb-test", base_url=fake_slack.base_url)
    fake_slack.fail_next("users.lookupByEmail", error="users_not_found")
    with pytest.raises(SlackApiError) as failed:
        await client.users_lookupByEmail(email="nobody@example.org")
    assert failed.value.response["error"] == "users_not_found"
    assert fake_slack.wait_for("users.lookupByEmail", 1)[0].body["email"] == "nobody@example.org"
