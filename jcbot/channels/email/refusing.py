"""Whether a refused reply is answered, and the refusal itself (in the intake's transaction).

A refusal goes only where the ANSWER rules allow: the registered address of a member of
the proposal's committee, authenticated (their own reply token, or a DKIM signature of
the From domain), not too often. Everything else is logged by the intake and dropped:
answering a forged From would make jcbot a source of backscatter, or tell a member "Not
recorded" about mail they never sent.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import func
from sqlmodel import col, select

from jcbot.channels.email.headers import header_value
from jcbot.channels.email.parse import ReplyReading
from jcbot.services.context import Notice, Recipient, ServiceContext
from jcbot.services.intake import Case, Rule, Stop
from jcbot.services.intake.chain import run
from jcbot.store.models import Member
from jcbot.store.outbox import OutboxMessage


@dataclass
class _Answering:
    """A refused reply, and whom a refusal would go to: decided before anything is enqueued."""

    ctx: ServiceContext
    case: Case
    sender: str
    member: Member | None = None  # the member whose registered address the From is


def _answer_member(a: _Answering) -> Stop | None:
    # Never a stranger: a forged From would turn jcbot into a source of backscatter.
    if a.case.extra.get("verified"):  # the token's own member, at their registered address
        a.member = a.case.member
        return None
    q = select(Member).where(func.lower(Member.email) == a.sender.lower())
    if a.case.committee is not None:
        q = q.where(Member.committee_id == a.case.committee.id)
    a.member = a.case.tx.session.exec(q.order_by(col(Member.left_at).is_(None).desc())).first()
    return None if a.member is not None else Stop("ignored", "the sender is not the registered address of a member")


def _answer_authenticated(a: _Answering) -> Stop | None:
    # The member's own token at their own address is what proves the sender when DKIM is
    # not required (whoever holds it could also assert). Anything else (no token, a forged
    # one, another member's) claims a member's From without proof: a forged From would
    # have that member told "Not recorded" about mail they never sent. So it is answered
    # only when signed by the From domain (DKIM aligned, or a trusted Authentication-Results).
    settings = a.ctx.settings
    if a.case.extra.get("verified") and not settings.require_dkim:
        return None
    auth = a.case.extra.get("auth") or authenticate(a.ctx, a.case.extra["raw"], a.sender)
    return None if auth.ok else Stop("ignored", f"the sender is not authenticated ({auth.reason})")


def _answer_rate(a: _Answering) -> Stop | None:
    limit = a.ctx.settings.refusals_per_hour
    address = (a.member.email if a.member is not None else a.sender) or a.sender
    since = a.case.tx.now - timedelta(hours=1)
    sent = a.case.tx.session.exec(select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.kind == "refusal", func.lower(OutboxMessage.recipient) == address.lower(),
        col(OutboxMessage.created_at) >= since)).one()
    if sent >= limit:
        return Stop("ignored", f"{sent} refusals sent to this address in the past hour (JCBOT_REFUSALS_PER_HOUR)")
    return None


ANSWER = (
    Rule("member", "the From address is the registered address of a member of the proposal's committee "
                   "(of any committee when no proposal is known)", _answer_member),
    Rule("authenticated", "the member's own reply token, or a DKIM signature of the From domain; with "
                          "JCBOT_REQUIRE_DKIM, the signature always", _answer_authenticated),
    Rule("rate", "fewer than JCBOT_REFUSALS_PER_HOUR refusals to this address in the past hour", _answer_rate),
)


def authenticate(ctx: ServiceContext, raw: bytes, sender: str):
    trusted = {t.strip() for t in (ctx.settings.trusted_authserv_ids or "").split(",") if t.strip()}
    from jcbot.channels.email.dkim import check_sender_authenticated  # dkimpy only when a claim must be checked

    return check_sender_authenticated(raw, sender.rpartition("@")[2], trusted)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _line(text: str | None, limit: int = 200) -> str | None:
    """A header value fit to show again: one line, no control characters, bounded."""
    if text is None:
        return None
    text = _CONTROL.sub(" ", text.encode("utf-8", "replace").decode("utf-8")).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def answer(ctx: ServiceContext, case: Case, stop: Stop, msg: EmailMessage, evidence: str) -> None:
    """Answer a refused reply, in the intake's transaction, when ANSWER allows; notes whether this delivery answered."""
    if stop.outcome != "refused":
        return
    reading: ReplyReading = case.extra["reading"]
    answering = _Answering(ctx, case, reading.from_address or "")
    gate = run(ANSWER, answering)
    if gate.stop is not None:
        case.extra["unanswered"] = (gate.stopped_by, gate.stop.reason)
        return
    member = answering.member
    assert member is not None and member.email
    m = member if case.extra.get("verified") else None  # only then may it show the member their own proposal
    address = member.email.strip()
    to = Recipient(f"email:{address.lower()}", member.name or address, member.id, address,
                   timezone=member.timezone)
    data = {**(stop.data if m else {}), "reason": stop.reason, "original_subject": _line(header_value(msg, "Subject")),
            "in_reply_to": reading.message_id, "recipient": {"handle": to.handle, "name": to.name}}
    committee, proposal = data.get("committee"), data.get("proposal")
    key = "refusal:" + hashlib.sha256(evidence.encode()).hexdigest()[:48]
    notice = Notice("refusal", key, to, data, committee["id"] if committee else None,
                    proposal["id"] if proposal else None, ("email",))
    # The outbox keeps one message per key anyway; this tells whether this delivery answered.
    if case.tx.session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"email:{key}")).first():
        case.extra["answered"] = False
        return
    case.extra["answered"] = case.tx.notify(notice) > 0
