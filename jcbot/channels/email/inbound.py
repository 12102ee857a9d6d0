"""A received email becomes an assertion, or a refusal that says why; the one place it happens.

Both ways in (the LMTP/SMTP listener and the IMAP poller) call `handle_message`. The
checks run in order: an automatic message is ignored; then who (the reply token
verifies, names a member and a proposal version, the From address is that member's,
optionally DKIM), then the proposal's state, then what (the reply text). The first
that fails records nothing and answers with a refusal that names only the sender's own
data. Anything else (the database is down...) raises, so the message is delivered again.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from jcbot.channels.email.compose import reply_secret
from jcbot.channels.email.dkim import check_sender_authenticated
from jcbot.channels.email.headers import header_value
from jcbot.channels.email.parse import ReplyReading, read_reply
from jcbot.channels.email.received import out_of_bounds
from jcbot.channels.email.tokens import TokenClaims, TokenError, read_token
from jcbot.core.errors import ProcedureError
from jcbot.services.assertions import Recorded, record_assertion
from jcbot.services.context import Notice, Recipient, ServiceContext, ServiceError
from jcbot.services.evaluation import gather
from jcbot.services.notices import proposal_data
from jcbot.store.models import AssertionRecord, Committee, Member, Proposal, ProposalVersion
from jcbot.store.outbox import OutboxMessage

log = logging.getLogger(__name__)
Outcome = Literal["recorded", "duplicate", "ignored", "refused"]


@dataclass(frozen=True)
class InboundResult:
    """What became of one received email, for logs and tests."""

    outcome: Outcome
    reason: str
    message_id: str | None = None
    assertion_id: int | None = None
    answered: bool = False  # a refusal was enqueued (False for a repeat of the same message)


@dataclass(frozen=True)
class _Sender:
    """The member a reply comes from, once the token and the From address agree."""

    id: int
    handle: str
    name: str
    timezone: str | None


@dataclass
class _Refused(Exception):
    reason: str
    member: _Sender | None = None  # set once the sender is known to be this member
    data: dict[str, Any] = field(default_factory=dict)


class _Seen(Exception):
    """This very message was recorded before (a redelivery): nothing to do, nothing to answer."""

    def __init__(self, assertion_id: int) -> None:
        super().__init__(assertion_id)
        self.assertion_id = assertion_id


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


def _claims(ctx: ServiceContext, reading: ReplyReading) -> TokenClaims:
    if not reading.tokens:
        raise _Refused("your message was not sent to a reply address of a proposal; use your mail client's "
                       "Reply on the proposal email, so that the answer goes to the address it came with")
    found: set[TokenClaims] = set()
    for token in reading.tokens:
        try:
            found.add(read_token(reply_secret(ctx.settings), token))
        except TokenError:
            continue
    if not found:
        raise _Refused("the reply address was not issued by jcbot (it is altered or from elsewhere); use your "
                       "mail client's Reply on the proposal email you received")
    if len(found) > 1:
        raise _Refused("your message went to several reply addresses of jcbot; answer each proposal email on its own")
    return found.pop()


def _state(p: Proposal, v: ProposalVersion, current: ProposalVersion) -> str | None:
    """Why this version takes no answer any more (superseded, withdrawn, referred), else None."""
    if v.version != current.version or v.closed_as == "superseded":
        now = f"version {current.version} is {current.status}" + (", please answer its email" if current.status in (
            "open", "objected") else "")
        return f"{p.ref} version {v.version} was superseded by version {current.version}; {now}."
    if v.closed_as is not None:
        when = f" on {v.closed_at:%d %B %Y}" if v.closed_at else ""
        return f"{p.ref} was {v.closed_as}{when}; answers are no longer recorded for it."
    if v.distributed_at is None:
        return f"{p.ref} version {v.version} has not been distributed."
    return None


def _check(ctx: ServiceContext, reading: ReplyReading, raw: bytes, sender: str, evidence: str
           ) -> tuple[TokenClaims, _Sender, str, dict[str, Any], datetime | None]:
    """Who: the token, its member, the From address and DKIM, and the proposal's state."""
    claims = _claims(ctx, reading)
    with ctx.tx(f"email:{sender}"[:200]) as tx:
        s = tx.session
        p, m = s.get(Proposal, claims.proposal_id), s.get(Member, claims.member_id)
        if p is None or m is None or m.committee_id != p.committee_id:
            raise _Refused("the reply address is not valid (its proposal or its member is unknown)")
        if (m.email or "").strip().lower() != sender.lower():
            # Nothing about the member the address was issued to: not even that it was another one.
            raise _Refused(f"this reply address was not issued to {sender}; reply from the address the proposal "
                           "was sent to, using Reply on your own copy of the proposal email")
        who = _Sender(m.id, m.handle, m.name, m.timezone)  # type: ignore[arg-type]
        data: dict[str, Any] = {}
        c = s.get(Committee, p.committee_id)
        versions = {v.version: v for v in s.exec(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id))}
        v, current = versions.get(claims.version), versions[p.current_version]
        shown = current if current.distributed_at is not None else v
        if shown is not None and shown.distributed_at is not None:
            data = proposal_data(gather(s, c, p, shown))  # type: ignore[arg-type]
        if v is None:
            raise _Refused(f"{p.ref} has no version {claims.version}", who, data)
        seen = s.exec(select(AssertionRecord.id).where(AssertionRecord.version_id == v.id,
                                                       AssertionRecord.evidence_key == evidence)).first()
        if seen is not None:
            # Checked before the state: a redelivery after a revision must not be refused.
            raise _Seen(seen)
        state = _state(p, v, current)
        if state is not None:
            raise _Refused(state, who, data | {"state": state})
    if ctx.settings.require_dkim:
        trusted = {t.strip() for t in (ctx.settings.trusted_authserv_ids or "").split(",") if t.strip()}
        auth = check_sender_authenticated(raw, sender.rpartition("@")[2], trusted)
        if not auth.ok:
            raise _Refused(f"jcbot could not verify that your message really comes from your mail system "
                           f"({auth.reason}); nothing was recorded. Ask your IT service about DKIM", who, data)
    if reading.kind != "answer":
        raise _Refused(reading.reason, who, data | {"show_forms": True, "answerable": True})
    return claims, who, p.ref, data, v.distributed_at


def _record(ctx: ServiceContext, reading: ReplyReading, raw: bytes, sender: str, evidence: str,
            received_at: datetime | None = None, dated_by: str | None = None
            ) -> tuple[Recorded, _Sender, str, int, datetime | None]:
    """Check the reply, then record it; a refusal by the service becomes a _Refused too."""
    claims, who, ref, data, distributed_at = _check(ctx, reading, raw, sender, evidence)
    at = _received(ctx, received_at, dated_by, distributed_at)
    for attempt in (1, 2):
        try:
            done = record_assertion(
                ctx, ref, who.handle, reading.assertion or "", channel="email", evidence_key=evidence,
                actor=f"email:{sender}"[:200], opinion=reading.opinion, version=claims.version,
                at=at, note=f"dated by {dated_by or 'the mail server'}" if at else None)
            return done, who, ref, claims.version, at
        except IntegrityError:
            # The same message delivered twice at once: the other delivery recorded it.
            if attempt == 2:
                raise
        except (ServiceError, ProcedureError) as exc:
            raise _Refused(str(exc), who, data) from None
    raise AssertionError("unreachable")  # pragma: no cover


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


def _refuse(ctx: ServiceContext, refused: _Refused, reading: ReplyReading, msg: EmailMessage, sender: str,
            evidence: str) -> bool:
    m = refused.member
    to = Recipient(f"email:{sender.lower()}", m.name if m else sender, m.id if m else None, sender,
                   timezone=m.timezone if m else None)
    data = {**refused.data, "reason": refused.reason, "original_subject": header_value(msg, "Subject"),
            "in_reply_to": reading.message_id, "recipient": {"handle": to.handle, "name": to.name}}
    committee, proposal = data.get("committee"), data.get("proposal")
    key = "refusal:" + hashlib.sha256(evidence.encode()).hexdigest()[:48]
    notice = Notice("refusal", key, to, data, committee["id"] if committee else None,
                    proposal["id"] if proposal else None, ("email",))
    with ctx.tx(f"email:{sender}"[:200]) as tx:
        # The outbox keeps one message per key anyway; this tells whether this delivery answered.
        if tx.session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"email:{key}")).first():
            return False
        return tx.notify(notice) > 0


def handle_message(ctx: ServiceContext, raw: bytes, *, via: str, received_at: datetime | None = None,
                   dated_by: str | None = None) -> InboundResult:
    """Turn one received email into an assertion, a refusal, or nothing (automatic mail).

    `received_at` is when the organisation's mail server received it (IMAP INTERNALDATE, or
    a trusted MTA's Received header), `dated_by` which of them; the assertion is made then.
    Without it (no trusted MTA configured) it is now.
    """
    msg = message_from_bytes(raw, _class=EmailMessage, policy=default)
    reading = read_reply(msg, reply_local=ctx.settings.reply_address.rpartition("@")[0])
    mid, sender = reading.message_id, reading.from_address
    if reading.kind == "auto_reply":
        log.info("event=email.received channel=email via=%s message=%s outcome=ignored reason=%r", via, mid, reading.reason)
        return InboundResult("ignored", reading.reason, mid)
    if sender is None or _ours(sender, ctx):
        # Answering would go nowhere, or to jcbot itself (a loop).
        why = "no single From address to answer" if sender is None else "sent by jcbot itself"
        log.info("event=email.received channel=email via=%s message=%s outcome=ignored reason=%r", via, mid, why)
        return InboundResult("ignored", why, mid)
    evidence = _evidence(mid, raw)
    try:
        done, who, ref, version, at = _record(ctx, reading, raw, sender, evidence, received_at, dated_by)
    except _Seen as seen:
        log.info("event=email.received channel=email via=%s message=%s outcome=duplicate", via, mid)
        return InboundResult("duplicate", "this message was recorded before", mid, seen.assertion_id)
    except _Refused as refused:
        answered = _refuse(ctx, refused, reading, msg, sender, evidence)
        log.info("event=email.received channel=email via=%s message=%s outcome=refused reason=%r", via, mid, refused.reason)
        return InboundResult("refused", refused.reason, mid, answered=answered)
    outcome: Outcome = "duplicate" if done.duplicate else "recorded"
    reason = f"{reading.assertion} of {who.handle} on {ref} version {version} ({done.status})"
    log.info("event=email.received channel=email via=%s message=%s proposal=%s outcome=%s dated_by=%r reason=%r",
             via, mid, ref, outcome, dated_by if at else "receipt", reason)
    return InboundResult(outcome, reason, mid, done.assertion_id)
