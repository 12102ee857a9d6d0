"""Recording members' assertions, from any channel, once per piece of evidence."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

from jcbot.core.decision import Verdict, check_assertion, within_period
from jcbot.services import notices
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.evaluation import cochair_recipients, gather, recipient, settle, verdict_of
from jcbot.services.proposals import lock_proposal, version_of
from jcbot.services.roster import get_member
from jcbot.store.models import AssertionRecord

CHANNELS = ("email", "slack", "web", "letter", "cli")


@dataclass(frozen=True)
class Recorded:
    """The outcome of an assertion: recorded (or already recorded), and the verdict after it."""

    assertion_id: int
    duplicate: bool
    ignored: bool  # recorded, but the outcome was already settled (PROCEDURE 6)
    status: str
    verdict: Verdict


def record_assertion(
    ctx: ServiceContext, ref: str, member: str, position: str, *, channel: str, evidence_key: str, actor: str,
    opinion: str | None = None, version: int | None = None, at: datetime | None = None, note: str | None = None,
) -> Recorded:
    """Record `member`'s assertion on proposal `ref` (its current version unless `version`).

    Refused (ServiceError / AssertionRefused, nothing written) for non-members, a closed or
    superseded version, a negative without opinion. The same evidence key twice is
    recorded once. `at` defaults to now; only the secretariat recording a letter may set it.
    """
    if channel not in CHANNELS:
        raise ServiceError(f"unknown channel {channel!r}")
    if at is not None and channel not in ("letter", "email"):
        # A letter is dated by the secretariat; an email by when our mail server received it.
        raise ServiceError("only an assertion made by letter or received by email may carry an earlier instant")
    if channel == "letter" and not (note or "").strip():
        raise ServiceError("an assertion recorded from a letter needs a note (which letter, received when)")
    opinion = opinion.strip() if opinion and opinion.strip() else None
    with ctx.tx(actor) as tx:
        c, p, v = lock_proposal(tx, ref)
        if version is not None and version != v.version:
            old = version_of(tx.session, p, version)
            raise ServiceError(f"{ref} version {old.version} was {old.status}; version {v.version} is {v.status} now")
        if v.distributed_at is None:
            raise ServiceError(f"{ref} has not been distributed yet")
        existing = tx.session.exec(select(AssertionRecord).where(
            AssertionRecord.version_id == v.id, AssertionRecord.evidence_key == evidence_key)).first()
        facts = gather(tx.session, c, p, v)
        if existing is not None:
            verdict = verdict_of(facts, tx.now)
            settle(tx, facts, verdict)  # a deadline may have passed since: record it now, not at the next sweep
            return Recorded(existing.id, True, False, verdict.status, verdict)  # type: ignore[arg-type]
        m = get_member(tx.session, c, member)
        when = at or tx.now
        if when > tx.now:
            raise ServiceError("an assertion cannot be recorded in the future")
        before = verdict_of(facts, when)
        # The verdict now, not only the stored status: an adoption at a deadline that no
        # sweep has recorded yet is just as final as a recorded one.
        current = verdict_of(facts, tx.now)
        settled_at = v.adopted_at or v.lapsed_at or current.adopted_at or current.lapsed_at
        if settled_at is not None and when < settled_at:
            # Adoption is final (PROCEDURE 6): a late-recorded letter must not rewrite it.
            raise ServiceError(f"{ref} was {current.status} at {settled_at.isoformat()}; an assertion dated before that "
                               "cannot be added now (tell the co-chairs)")
        if v.closed_as is not None or v.status in ("withdrawn", "superseded", "referred"):
            raise ServiceError(f"{ref} version {v.version} is {v.status}; nothing was recorded")
        check_assertion(facts.distribution, facts.roster, member, position, when, opinion, facts.closure)
        row = AssertionRecord(version_id=v.id, member_id=m.id, member=member, position=position, opinion=opinion,
                              at=when, channel=channel, evidence_key=evidence_key, recorded_at=tx.now,
                              recorded_by=actor, note=note)
        tx.session.add(row)
        tx.session.flush()
        ignored = before.final
        tx.audit("assertion.recorded", f"proposal:{ref}", {
            "version": v.version, "member": member, "position": position, "opinion": opinion, "at": when,
            "channel": channel, "evidence": evidence_key, "note": note, "ignored": ignored,
        }, c.id)
        facts = gather(tx.session, c, p, v, facts.roster)
        verdict = verdict_of(facts, tx.now)
        extra = {"assertion": {"position": position, "opinion": opinion, "at": when.isoformat(), "member": member,
                               "member_name": m.name, "channel": channel, "ignored": ignored,
                               # The core's judgement, shown as is by every channel (never recomputed there).
                               "within_period": within_period(facts.distribution.deadline, when)}}
        me = recipient(m)
        tx.notify(notices.proposal_notice("confirmation", facts, me, extra, key_suffix=str(row.id),
                                          channels=(("slack",) if channel == "slack" else ("email",))))
        if position == "negative":
            # PROCEDURE 7: every negative, within the period or later, goes at once to both co-chairs.
            for r in cochair_recipients(tx.session, c, facts.roster, tx.now):
                tx.notify(notices.proposal_notice("escalation", facts, r, extra, key_suffix=str(row.id)))
        settle(tx, facts, verdict)
        return Recorded(row.id, False, ignored, verdict.status, verdict)  # type: ignore[arg-type]
