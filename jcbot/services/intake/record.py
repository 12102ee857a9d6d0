"""The terminal step of every intake: record the assertion, its audit event, its notices and the verdict."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC

from jcbot.core.decision import Assertion, Verdict
from jcbot.services import notices
from jcbot.services.evaluation import cochair_recipients, recipient, settle, verdict_of
from jcbot.services.intake.case import Case
from jcbot.store.models import AssertionRecord

_INSERT = AssertionRecord.__table__.insert()  # type: ignore[attr-defined]  # built once: every input runs it


@dataclass(frozen=True)
class Recorded:
    """The outcome of an assertion: recorded (or already recorded), and the verdict after it."""

    assertion_id: int
    duplicate: bool
    ignored: bool  # recorded, but the outcome was already settled (PROCEDURE 6)
    status: str
    verdict: Verdict


def record(case: Case, actor: str) -> Recorded:
    """Write what the rules admitted, in the intake's transaction; settle what it changes."""
    tx, facts, m, admission = case.tx, case.gather(), case.member, case.admission
    assert m is not None and admission is not None and case.position and case.version is not None
    when = case.when
    # What the member asserted on: the version's documents, by hash (frozen since its distribution).
    hashes = case.document_hashes()
    row = dict(version_id=case.version.id, member_id=m.id, member=m.handle, position=case.position,
               opinion=case.opinion, at=when.astimezone(UTC), channel=case.channel, evidence_key=case.evidence_key,
               recorded_at=tx.now.astimezone(UTC), recorded_by=actor, note=case.note, documents=hashes)
    row_id = tx.session.connection().execute(_INSERT, row).inserted_primary_key[0]
    case.remember(row | {"id": row_id})  # as the row reads back (instants in UTC)
    tx.audit("assertion.recorded", f"proposal:{case.ref}", {
        "version": case.version.version, "member": m.handle, "position": case.position, "opinion": case.opinion,
        "at": when, "channel": case.channel, "evidence": case.evidence_key, "note": case.note,
        "ignored": admission.ignored, "documents": hashes,
    }, facts.committee.id)
    # The facts after it without reading them again: the new assertion comes last among equals.
    facts = replace(facts, assertions=facts.assertions + (
        Assertion(m.handle, case.position, when, case.opinion, ref=str(row_id)),))  # type: ignore[arg-type]
    case.facts = facts
    verdict = verdict_of(facts, tx.now)
    extra = {"assertion": {"position": case.position, "opinion": case.opinion, "at": when.isoformat(),
                           "member": m.handle, "member_name": m.name, "channel": case.channel,
                           "ignored": admission.ignored, "documents": hashes,  # repeated in the confirmation
                           # The core's judgement, shown as is by every channel (never recomputed there).
                           "within_period": admission.within_period}}
    told = [notices.proposal_notice("confirmation", facts, recipient(m), extra, key_suffix=str(row_id),
                                    channels=(("slack",) if case.channel == "slack" else ("email",)))]
    if admission.escalate:
        # PROCEDURE 7: every negative, within the period or later, goes at once to both co-chairs.
        told += [notices.proposal_notice("escalation", facts, r, extra, key_suffix=str(row_id))
                 for r in cochair_recipients(tx.session, facts.committee, facts.roster, tx.now)]
    tx.notify_all(told)
    settle(tx, facts, verdict)
    return Recorded(row_id, False, admission.ignored, verdict.status, verdict)  # type: ignore[arg-type]


def repeat(case: Case, assertion_id: int) -> Recorded:
    """A repeat of recorded evidence: nothing new, but what time changed meanwhile is settled now."""
    facts = case.gather()
    verdict = verdict_of(facts, case.tx.now)
    settle(case.tx, facts, verdict)
    return Recorded(assertion_id, True, False, verdict.status, verdict)  # type: ignore[arg-type]
