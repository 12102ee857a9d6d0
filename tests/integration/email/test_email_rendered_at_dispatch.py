"""Notices are data in the outbox, rendered by the sender at dispatch (STYLE habit 13).

A real aiosmtpd server receives what jcbot's SmtpSender renders; the Message-ID comes
from the notice key, so a render after a crash gives the same id; the scheduler wakes
the dispatcher as soon as a change that enqueued notices commits; SMTP connections are
reused; a message queued in the old, rendered shape is still sent.
"""
from __future__ import annotations

import asyncio
from datetime import timedelta
from email import message_from_string
from email.policy import default

from sqlmodel import select

from jcbot.channels.email.compose import EmailRenderer, distribution_key, message_id
from jcbot.channels.email.smtp import SmtpSender
from jcbot.channels.slack.sender import SlackSender
from jcbot.scheduler import Scheduler
from jcbot.services import outgoing
from jcbot.services.dispatcher import Dispatcher
from jcbot.settings import Settings
from jcbot.store import outbox, outbox_claims
from jcbot.store.db import session_scope
from jcbot.store.outbox import OutboxMessage
from tests.integration.email.mailtest import PEOPLE, distribute

SMTP = {"JCBOT_SMTP_SECURITY": "none"}
EMAILS = sorted(email for _, _, email, _ in PEOPLE.values() if email)


def smtp(smtp_server, **extra) -> dict:
    return {"JCBOT_SMTP_HOST": smtp_server.host, "JCBOT_SMTP_PORT": str(smtp_server.port), **SMTP, **extra}


def stored(jc, kind: str = "distribution") -> list[OutboxMessage]:
    with session_scope(jc.ctx.engine) as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))
        for row in rows:
            s.expunge(row)
        return rows


async def test_the_outbox_holds_the_notice_and_the_server_gets_the_mime_rendered_at_dispatch(
        committee_factory, smtp_server):
    jc = committee_factory(**smtp(smtp_server))
    rows = stored(jc)
    assert sorted(r.recipient for r in rows) == EMAILS
    # Data, not a message: no MIME, no Slack payload in the transaction.
    assert all(outgoing.is_notice(r.payload) and "message" not in r.payload for r in rows)
    assert rows[0].payload["notice"]["kind"] == "distribution"
    assert await Dispatcher(jc.ctx.engine, {"email": SmtpSender(jc.ctx.settings)}, jc.clock).drain() == 4
    got = {m.rcpt_tos[0]: m.message for m in await smtp_server.wait_for_async(4)}
    assert sorted(got) == EMAILS
    sato = got["hanako.sato.jc@gmail.com"]
    assert sato["Message-ID"].strip() == message_id(jc.secret, distribution_key(jc.version_id, "sato"),
                                                    "jcm-mn.example.org")
    assert sato.get_body(("plain",)) is not None and sato["Date"] is not None
    assert {r.status for r in stored(jc)} == {"sent"}


async def test_a_crash_between_claim_and_send_then_a_new_render_gives_the_same_message_id(
        committee_factory, smtp_server):
    jc = committee_factory(**smtp(smtp_server))
    # A first worker claims everything, renders, starts the sends and dies before any lands.
    with session_scope(jc.ctx.engine) as s:
        claimed = outbox_claims.claim_due(s, jc.clock.now(), 10, worker="dead", lease=timedelta(seconds=30))
        for m in claimed:
            outbox_claims.mark_in_flight(s, m.id, now=jc.clock.now(), attempt=m.attempt, worker="dead")
    first = {m.recipient: EmailRenderer(jc.ctx.settings).for_outbox(m) for m in claimed}
    ids = {to: _message_id(p["message"]) for to, p in first.items()}
    jc.clock.advance(timedelta(minutes=1))  # the lease lapsed: another worker, another renderer, renders again
    survivor = Dispatcher(jc.ctx.engine, {"email": SmtpSender(jc.ctx.settings)}, jc.clock, worker="alive")
    assert await survivor.drain() == 4
    got = {m.rcpt_tos[0]: m.message["Message-ID"].strip() for m in await smtp_server.wait_for_async(4)}
    assert got == ids


def _message_id(text: str) -> str:
    return message_from_string(text, policy=default)["Message-ID"].strip()


async def test_a_notice_that_reaches_no_address_at_send_time_fails_with_the_reason(committee_factory, smtp_server):
    jc = committee_factory(**smtp(smtp_server))
    notice = outgoing.from_payload(stored(jc)[0].payload)
    lost = outgoing.Notice("distribution", "distribution:lost", outgoing.Recipient("ghost", "Ghost"), notice.data)
    with session_scope(jc.ctx.engine) as s:
        outbox.enqueue(s, now=jc.clock.now(), channel="email", kind="distribution", recipient="ghost@x.example",
                       dedupe_key="email:distribution:lost", payload=outgoing.to_payload(lost))
    await Dispatcher(jc.ctx.engine, {"email": SmtpSender(jc.ctx.settings)}, jc.clock).drain()
    [row] = [r for r in stored(jc) if r.dedupe_key == "email:distribution:lost"]
    assert row.status == "failed" and "reaches no email address" in row.last_error
    assert len(await smtp_server.wait_for_async(4)) == 4


async def test_messages_queued_in_the_old_rendered_shape_are_still_sent(committee_factory, smtp_server, fake_slack):
    jc = committee_factory(**smtp(smtp_server))
    old = EmailRenderer(jc.ctx.settings).render(outgoing.from_payload(stored(jc)[0].payload))[0]
    with session_scope(jc.ctx.engine) as s:
        s.execute(OutboxMessage.__table__.delete())
        outbox.enqueue(s, now=jc.clock.now(), channel="email", kind="distribution", recipient=old.recipient,
                       dedupe_key="email:old", payload=old.payload)
        outbox.enqueue(s, now=jc.clock.now(), channel="slack", kind="distribution", recipient="U0SATO",
                       dedupe_key="slack:old", payload=outbox.slack_payload("chat.postMessage", channel="U0SATO",
                                                                             text="queued before the upgrade"))
    settings = Settings({**jc.ctx.settings.values, "slack_bot_token": "xoxb-t", "slack_api_url": fake_slack.base_url})
    senders = {"email": SmtpSender(settings), "slack": SlackSender(settings)}
    assert await Dispatcher(jc.ctx.engine, senders, jc.clock).drain() == 2
    [mail] = await smtp_server.wait_for_async(1)
    assert mail.rcpt_tos == [old.recipient] and mail.message["Message-ID"].strip() == _message_id(old.payload["message"])
    [post] = fake_slack.calls("chat.postMessage")
    assert post.body["text"] == "queued before the upgrade"
    assert {r.status for r in stored(jc)} == {"sent"}


async def test_the_smtp_pool_reuses_connections(committee_factory, smtp_server):
    jc = committee_factory(**smtp(smtp_server))
    for n in range(5):
        distribute(jc.ctx, title=f"Round {n}")
    sender = SmtpSender(jc.ctx.settings, connections=2)
    assert await Dispatcher(jc.ctx.engine, {"email": sender}, jc.clock).drain() == 24
    await smtp_server.wait_for_async(24)
    assert 1 <= smtp_server.connections <= 2 < 24  # several messages per connection
    await sender.close()


async def test_a_committed_enqueue_wakes_the_dispatcher_long_before_its_interval(committee_factory, smtp_server):
    jc = committee_factory(**smtp(smtp_server, JCBOT_DISPATCH_INTERVAL="3600"))
    dispatcher = Dispatcher(jc.ctx.engine, {"email": SmtpSender(jc.ctx.settings)}, jc.clock)
    scheduler = Scheduler(jc.ctx, dispatcher)
    jc.ctx.on_enqueued = scheduler.wake
    scheduler.start(lead=False)  # the start pass sends the first proposal
    try:
        await smtp_server.wait_for_async(4)
        await asyncio.sleep(0.2)  # the start pass is over: the next one is an hour away unless woken
        await asyncio.to_thread(distribute, jc.ctx, title="Second proposal")
        # Bounded wait, not a timing: without the wake-up nothing would come for an hour.
        assert len(await smtp_server.wait_for_async(8, timeout=10)) == 8
    finally:
        await scheduler.shutdown()
        await dispatcher.close()
