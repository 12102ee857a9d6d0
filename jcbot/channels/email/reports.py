"""Delivery reports reaching the intake: mail to a bounce address (bounces.py) read as a DSN (dsn.py).

The intake's first rule, `BOUNCE`, recognises a message sent to one of jcbot's bounce
addresses and reads its report; `act_on_report` then marks the outbox message bounced on
a permanent failure. A report is never an assertion and is never answered: it has no one
to answer, and a forged one would make jcbot a source of backscatter.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from email.message import EmailMessage

from jcbot.channels.email.bounces import BounceTokenError, bounce_tokens, read_bounce_token
from jcbot.channels.email.compose import reply_secret
from jcbot.channels.email.dsn import Report, read_report
from jcbot.channels.email.parse import ReplyReading
from jcbot.services.context import ServiceContext
from jcbot.services.intake import Rule, Stop
from jcbot.store import outbox
from jcbot.store.outbox import OutboxMessage

log = logging.getLogger(__name__)


class _Message(Protocol):
    msg: EmailMessage | None
    ctx: ServiceContext
    envelope: tuple[str, ...]  # the delivery's RCPT TO addresses (LMTP/SMTP), else empty
    reading: ReplyReading  # read_reply's reading of msg: its recipients are not read again


def _bounce(m: _Message) -> Stop | None:
    if m.msg is None:
        return None
    # An unreadable message's reading has no recipients: then they are read here, as always.
    recipients = m.reading.recipients if m.reading.kind != "unreadable" else None
    tokens = bounce_tokens(m.msg, m.ctx.settings.reply_address.rpartition("@")[0], m.envelope, recipients)
    if not tokens:
        return None
    secret = reply_secret(m.ctx.settings)
    ids = set()
    for token in tokens:
        try:
            ids.add(read_bounce_token(secret, token))
        except BounceTokenError:
            continue
    if len(ids) != 1:
        why = "not issued by this jcbot (forged or altered)" if not ids else "several outbox messages at once"
        return Stop("ignored", f"a message to a bounce address {why}")
    report = read_report(m.msg)
    data = {"bounce": ids.pop(), "report": report}
    if report.verdict == "failed":
        return Stop("ignored", f"a delivery report: failed ({report.diagnostic})", data=data)
    return Stop("ignored", f"a delivery report: {report.verdict} ({report.diagnostic}); nothing to record", data=data)


BOUNCE = Rule("bounce", "a message to a bounce address is a delivery report: a permanent failure marks that outbox "
                        "message bounced; nothing else is recorded or answered", _bounce)


@dataclass(frozen=True)
class Acted:
    """What a report with a valid bounce token did: why, and the outbox message it marked bounced (if any)."""

    reason: str
    bounced: int | None = None


def act_on_report(ctx: ServiceContext, message_id: int, report: Report, via: str, mid: str | None) -> Acted:
    """A permanent failure marks outbox message `message_id` bounced (if it was sent); anything else is logged."""
    if report.verdict != "failed":
        # A delay is the relay still trying; anything else (an auto-reply to the envelope sender) says nothing.
        log.info("event=email.bounce channel=email via=%s message=%s outbox=%s outcome=%s reason=%r",
                 via, mid, message_id, report.verdict, report.diagnostic)
        return Acted(f"delivery report: {report.verdict} ({report.diagnostic})")
    reason = f"bounced after sending: {report.diagnostic}"
    with ctx.tx("email:bounce") as tx:
        before = outbox.mark_bounced(tx.session, message_id, now=tx.now, reason=reason)
        row = tx.session.get(OutboxMessage, message_id) if before in ("sent", "sending") else None
        row = row if row is not None and row.status == "bounced" else None
        kind = row.kind if row is not None else None
        if row is not None:
            tx.audit("outbox.bounced", f"outbox:{message_id}", {
                "kind": row.kind, "channel": row.channel, "recipient": row.recipient,
                "diagnostic": report.diagnostic, "reported_recipient": report.recipient}, row.committee_id)
    if kind is None:
        why = "no such outbox message" if before is None else f"the message is {before}, not sent"
        log.info("event=email.bounce channel=email via=%s message=%s outbox=%s outcome=ignored reason=%r",
                 via, mid, message_id, why)
        return Acted(f"delivery report about outbox message {message_id}: {why}")
    log.warning("event=email.bounce channel=email via=%s message=%s outbox=%s outcome=bounced kind=%s reason=%r",
                via, mid, message_id, kind, report.diagnostic)
    return Acted(reason, message_id)
