"""A received email becomes an assertion, or a refusal that says why; the one place it happens.

Both ways in (the LMTP/SMTP listener and the IMAP poller) call `handle_message`, and it
is the email's intake use case: an ordered list of named rules (services.intake), in
two parts. On the message alone: a delivery report to a bounce address is acted on
(reports.py), an automatic message or one without a sender to answer is ignored. Then, in one transaction with the recording: who (the reply token
verifies and names a member and a proposal version, the From address is that member's,
optionally DKIM), the version's state, what (the reply text), and the core's admission.
The first rule that stops it records nothing; a refusal names only the sender's own
data, and goes only where refusing.ANSWER allows (a member, authenticated, not too
often): never to a stranger. Anything else raises; `transient` tells whether it may
succeed later (the database is down), so the message is delivered again, or never will.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from jcbot.channels.email.compose import reply_secret
from jcbot.channels.email import refusing, reports
from jcbot.channels.email.limits import bound
from jcbot.channels.email.parse import ReplyReading, parse_message, read_reply
from jcbot.channels.email.received import Dating, out_of_bounds, received_instant, trusted_hosts
from jcbot.channels.email.tokens import TokenClaims, TokenError, read_token
from jcbot.services.context import ServiceContext
from jcbot.services.intake import Case, Input, Outcome as Taken, Rule, Stop
from jcbot.services.intake import rules as common
from jcbot.services.intake.chain import run
from jcbot.services.intake.group import group_of

log = logging.getLogger(__name__)
Outcome = Literal["recorded", "duplicate", "ignored", "refused"]


@dataclass(frozen=True)
class InboundResult:
    """What became of one received email, for logs and tests."""

    outcome: Outcome
    reason: str
    message_id: str | None = None
    assertion_id: int | None = None
    answered: bool = False  # a refusal was enqueued (False for a repeat, or when ANSWER allowed none)
    rule: str | None = None  # the rule that decided (services.intake), None once recorded
    bounced: int | None = None  # a delivery report marked this outbox message bounced


@dataclass(frozen=True)
class _Incoming:
    """The message as the rules before any database work see it."""

    reading: ReplyReading
    ctx: ServiceContext
    msg: EmailMessage | None = None
    envelope: tuple[str, ...] = ()  # RCPT TO of an LMTP/SMTP delivery: where a bounce address may be named alone


def _evidence(message_id: str | None, raw: bytes) -> str:
    # The Message-ID is the evidence; without one, the bytes themselves (a replay of
    # the same bytes is still recognised). Bounded to the column's 300 characters.
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    return message_id if len(message_id) <= 300 else "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def _ours(address: str, ctx: ServiceContext) -> bool:
    address = address.lower()
    mine = {ctx.settings.mail_from.lower(), ctx.settings.reply_address.lower()}
    local, _, domain = ctx.settings.reply_address.lower().rpartition("@")
    return address in mine or (address.startswith(local + "+") and address.endswith("@" + domain))


def _automatic(m: _Incoming) -> Stop | None:
    return Stop("ignored", m.reading.reason) if m.reading.kind == "auto_reply" else None


def _answerable(m: _Incoming) -> Stop | None:
    sender = m.reading.from_address
    if sender is None:
        return Stop("ignored", "no single From address to answer")
    if _ours(sender, m.ctx):
        return Stop("ignored", "sent by jcbot itself")  # answering would loop
    return None


BEFORE = (
    reports.BOUNCE,
    Rule("automatic", "an auto-reply, out-of-office or delivery report is ignored, never answered", _automatic),
    Rule("answerable", "a single From address that is not jcbot's own", _answerable),
)


def _token(case: Case) -> Stop | None:
    reading: ReplyReading = case.extra["reading"]
    if not reading.tokens:
        return case.refuse("your message was not sent to a reply address of a proposal; use your mail client's "
                           "Reply on the proposal email, so that the answer goes to the address it came with")
    found: set[TokenClaims] = set()
    for token in reading.tokens:
        try:
            found.add(read_token(reply_secret(case.extra["ctx"].settings), token))
        except TokenError:
            continue
    if not found:
        return case.refuse("the reply address was not issued by jcbot (it is altered or from elsewhere); use your "
                           "mail client's Reply on the proposal email you received")
    if len(found) > 1:
        return case.refuse("your message went to several reply addresses of jcbot; answer each proposal email on its own")
    claims = found.pop()
    case.proposal_id, case.member_id, case.version_no = claims.proposal_id, claims.member_id, claims.version
    return None


def _addressee(case: Case) -> Stop | None:
    if not case.lock_proposal() or not case.load_member():
        return case.refuse("the reply address is not valid (its proposal or its member is unknown)")
    return None


def _sender(case: Case) -> Stop | None:
    assert case.member is not None
    sender = case.extra["reading"].from_address
    if (case.member.email or "").strip().lower() != sender.lower():
        # Nothing about the member the address was issued to: not even that it was another one.
        return case.refuse(f"this reply address was not issued to {sender}; reply from the address the proposal "
                           "was sent to, using Reply on your own copy of the proposal email")
    case.extra["verified"] = True  # from here on, a refusal may show the member their own proposal
    return None


def _dkim(case: Case) -> Stop | None:
    ctx: ServiceContext = case.extra["ctx"]
    if not ctx.settings.require_dkim:
        return None
    auth = case.extra["auth"] = refusing.authenticate(ctx, case.extra["raw"], case.extra["reading"].from_address)
    if auth.ok:
        return None
    return case.refuse(f"jcbot could not verify that your message really comes from your mail system "
                       f"({auth.reason}); nothing was recorded. Ask your IT service about DKIM")


def _understood(case: Case) -> Stop | None:
    reading: ReplyReading = case.extra["reading"]
    if reading.kind != "answer":
        stop = case.refuse(reading.reason)
        return Stop("refused", stop.reason, error=stop.error, data={**(stop.data or {}), "show_forms": True,
                                                                    "answerable": True})
    case.position, case.opinion = reading.assertion, reading.opinion
    return None


def _dated(case: Case) -> Stop | None:
    # Never stops: the instant the mail system received it, when that can be genuine.
    assert case.version is not None
    case.at = _received(case.extra["ctx"], case.extra.get("received_at"), case.extra.get("dated_by"),
                        case.version.distributed_at)
    if case.at is not None:
        case.note = f"dated by {case.extra.get('dated_by') or 'the mail server'}"
    return None


RULES = (
    Rule("token", "the reply address carries one token jcbot issued (resolves proposal, version, member)", _token),
    Rule("addressee", "the token's proposal and member exist in one committee (locks the proposal)", _addressee),
    Rule("sender", "the From address is the one the proposal was sent to", _sender),
    common.VERSION, common.SEEN, common.DISTRIBUTED, common.CURRENT,
    Rule("dkim", "with JCBOT_REQUIRE_DKIM, the sender's mail system signed it", _dkim),
    Rule("understood", "the reply says affirm or object (with an opinion) unambiguously", _understood),
    Rule("dated", "dated when our mail system received it, if that can be genuine (never stops)", _dated),
    common.ADMISSION,
)


def _received(ctx: ServiceContext, received_at: datetime | None, dated_by: str | None,
              distributed_at: datetime | None) -> datetime | None:
    """The instant the mail system received the reply, or None (now) when it cannot be genuine."""
    if received_at is None:
        return None
    now = ctx.clock.now()
    # A server clock ahead of ours must not date an assertion in the future; a reply cannot
    # have been received before the proposal it answers was distributed.
    problem = "no time zone" if received_at.tzinfo is None else out_of_bounds(received_at, now, distributed_at)
    if problem:
        log.warning("event=email.dated channel=email dated_by=%r outcome=receipt_time reason=%r", dated_by, problem)
        return None
    return received_at if received_at < now else None


def transient(exc: BaseException) -> bool:
    """Whether handling may succeed later: the database is unavailable, locked or too slow now."""
    if isinstance(exc, (OperationalError, PoolTimeout, TimeoutError, ConnectionError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def handle_message(ctx: ServiceContext, raw: bytes, *, via: str, received_at: datetime | None = None,
                   dated_by: str | None = None, envelope: Sequence[str] = ()) -> InboundResult:
    """Turn one received email into an assertion, a refusal, or nothing (automatic mail).

    `received_at` is when the organisation's mail server received it (IMAP INTERNALDATE, or
    a trusted MTA's Received header), `dated_by` which of them; the assertion is made then.
    Without it (no trusted MTA configured) it is now. `envelope` is the delivery's RCPT TO
    (LMTP/SMTP): a delivery report to a bounce address is recognised from it too.
    """
    s = ctx.settings
    bounded = bound(raw, s.inbound_max_header_bytes, s.inbound_max_body_bytes)
    if bounded.problem is not None:
        log.info("event=email.received channel=email via=%s message=None outcome=ignored rule=size reason=%r",
                 via, bounded.problem)
        return InboundResult("ignored", bounded.problem, rule="size")
    msg = parse_message(bounded.raw)
    reading = read_reply(msg, reply_local=s.reply_address.rpartition("@")[0])
    mid, sender = reading.message_id, reading.from_address
    before = run(BEFORE, _Incoming(reading, ctx, msg, tuple(a for a in envelope if isinstance(a, str))[:100]))
    if before.stopped_by == "bounce" and before.stop is not None and before.stop.data:
        acted = reports.act_on_report(ctx, before.stop.data["bounce"], before.stop.data["report"], via, mid)
        return InboundResult("ignored", acted.reason, mid, rule="bounce", bounced=acted.bounced)
    if before.stop is not None:
        log.info("event=email.received channel=email via=%s message=%s outcome=ignored rule=%s reason=%r",
                 via, mid, before.stopped_by, before.stop.reason)
        return InboundResult("ignored", before.stop.reason, mid, rule=before.stopped_by)
    evidence = _evidence(mid, raw)
    extra = {"reading": reading, "ctx": ctx, "raw": raw, "received_at": received_at, "dated_by": dated_by}
    out: Taken | None = None
    for attempt in (1, 2):
        try:
            # Taken with the replies other threads are taking at this moment (a group commit on SQLite).
            out = group_of(ctx).take(Input(f"email:{sender}"[:200], RULES,
                                           lambda tx: Case(tx, "email", evidence, extra=dict(extra)),
                                           lambda case, stop: refusing.answer(ctx, case, stop, msg, evidence)))
            break
        except IntegrityError:
            # The same message delivered twice at once: the other delivery recorded it.
            if attempt == 2:
                raise
    assert out is not None and out.case is not None
    if out.outcome == "refused":
        # Not answered: logged here and dropped (a stranger, an unauthenticated claim, too many refusals).
        unanswered_by, why = out.case.extra.get("unanswered") or (None, None)
        log.info("event=email.received channel=email via=%s message=%s outcome=refused rule=%s reason=%r "
                 "answered=%s unanswered_by=%s unanswered=%r sender=%r", via, mid, out.rule, out.reason,
                 "yes" if out.case.extra.get("answered") else "no", unanswered_by, why, sender)
        return InboundResult("refused", out.reason, mid, answered=bool(out.case.extra.get("answered")), rule=out.rule)
    if out.outcome == "duplicate":
        log.info("event=email.received channel=email via=%s message=%s outcome=duplicate", via, mid)
        return InboundResult("duplicate", "this message was recorded before", mid,
                             out.stop.assertion_id if out.stop else None, rule=out.rule)
    done, case = out.recorded, out.case
    assert done is not None
    log.info("event=email.received channel=email via=%s message=%s proposal=%s outcome=recorded dated_by=%r reason=%r",
             via, mid, case.ref, case.extra.get("dated_by") if case.at else "receipt", out.reason)
    return InboundResult("recorded", out.reason, mid, done.assertion_id)


def receive(ctx: ServiceContext, raw: bytes, *, via: str, delivered_at: datetime | None = None,
            delivered_by: str | None = None, envelope: Sequence[str] = ()) -> InboundResult:
    """`handle_message` for a message a mail server delivered (LMTP/SMTP, Maildir, `jcbot mail receive`).

    Dated by the topmost Received headers of a trusted MTA (JCBOT_TRUSTED_RECEIVED_BY) when
    there are some; else at `delivered_at` (a Maildir file's delivery time) when given; else now.
    `envelope`: the delivery's RCPT TO addresses, when the listener got it.
    """
    s = ctx.settings
    dating = Dating(None, None)
    if trusted_hosts(s.trusted_received_by):  # else no header can date it: none is parsed for that
        head = bound(raw, s.inbound_max_header_bytes, 0).raw  # the dating reads headers only
        dating = received_instant(parse_message(head, headers_only=True), s.trusted_received_by, ctx.clock.now())
    if dating.at is not None:
        return handle_message(ctx, raw, via=via, received_at=dating.at, dated_by=dating.header, envelope=envelope)
    if dating.problem and delivered_at is None:
        log.warning("event=email.dated channel=email via=%s outcome=receipt_time reason=%r", via, dating.problem)
    return handle_message(ctx, raw, via=via, received_at=delivered_at, dated_by=delivered_by if delivered_at else None,
                          envelope=envelope)
