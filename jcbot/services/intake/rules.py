"""The checks every intake shares, each a small named rule (see chain.py).

They run inside the intake's transaction, after the proposal's lock: the state they
read is the state the recording will change. The judgements of the procedure (finality,
closed versions, who may assert, a negative's opinion) are the core's `admit`; these
rules only find the records and report the core's answer.
"""
from __future__ import annotations

from jcbot.core.decision import admit
from jcbot.core.errors import ProcedureError
from jcbot.services.context import ServiceError
from jcbot.services.intake.case import Case
from jcbot.services.intake.chain import Rule, Stop

CHANNELS = ("email", "slack", "web", "letter", "cli")


def _channel(case: Case) -> Stop | None:
    if case.channel not in CHANNELS:
        return case.refuse(f"unknown channel {case.channel!r}")
    if case.at is not None and case.channel not in ("letter", "email"):
        # A letter is dated by the secretariat; an email by when our mail server received it.
        return case.refuse("only an assertion made by letter or received by email may carry an earlier instant")
    return None


def _letter_note(case: Case) -> Stop | None:
    if case.channel == "letter" and not (case.note or "").strip():
        return case.refuse("an assertion recorded from a letter needs a note (which letter, received when)")
    return None


def _proposal(case: Case) -> Stop | None:
    if case.lock_proposal():
        return None
    return case.refuse(f"no proposal {case.ref!r}" if case.ref is not None else "the proposal named is unknown")


def _version(case: Case) -> Stop | None:
    assert case.proposal is not None
    if case.version is None:
        return case.refuse(f"{case.ref} has no version {case.version_no}")
    return None


def _seen(case: Case) -> Stop | None:
    found = case.seen()
    # Before the version's state: a redelivery after a revision is a repeat, not a refusal.
    return Stop("duplicate", "this evidence was recorded before", assertion_id=found) if found is not None else None


def _distributed(case: Case) -> Stop | None:
    assert case.version is not None
    if case.version.distributed_at is None:
        return case.refuse(f"{case.ref} has not been distributed yet")
    return None


def _current(case: Case) -> Stop | None:
    v, current = case.version, case.current
    assert v is not None and current is not None
    if v.version != current.version:
        answer = ", please answer it instead" if current.status in ("open", "objected") else ""
        return case.refuse(f"{case.ref} version {v.version} was superseded by version {current.version}; "
                           f"version {current.version} is {current.status} now{answer}")
    if v.closed_as is not None:
        return case.refuse(f"{case.ref} version {v.version} is {v.status}; nothing was recorded")
    return None


def _member(case: Case) -> Stop | None:
    if case.load_member():
        return None
    assert case.committee is not None
    return case.refuse(f"{case.committee.slug}: no member {case.handle!r}")


def _admission(case: Case) -> Stop | None:
    facts = case.gather()
    try:
        case.admission = admit(facts.distribution, facts.roster, facts.assertions, case.handle or "",
                               case.position or "", case.when, case.tx.now, case.opinion, facts.closure)
    except ProcedureError as refusal:
        return case.refuse(str(refusal), refusal)
    return None


CHANNEL = Rule("channel", "a known channel; only a letter or an email may carry its own earlier date", _channel)
LETTER_NOTE = Rule("letter-note", "a letter is recorded with a note saying which letter", _letter_note)
PROPOSAL = Rule("proposal", "the proposal exists (resolves and locks it, then reads the instant)", _proposal)
VERSION = Rule("version", "the version answered exists", _version)
SEEN = Rule("seen", "the same evidence (message, click, letter) was not recorded before", _seen)
DISTRIBUTED = Rule("distributed", "the version was distributed", _distributed)
CURRENT = Rule("current", "the version answered is the current one and the co-chairs have not closed it", _current)
MEMBER = Rule("member", "the member exists in the proposal's committee (resolves them)", _member)
ADMISSION = Rule("admission", "the core admits the assertion now: electorate, still a member, opinion of a "
                              "negative, not before distribution, not before a settled outcome", _admission)

# A letter typed in by the secretariat, the CLI, the web: the input names member and proposal.
DIRECT = (CHANNEL, LETTER_NOTE, PROPOSAL, VERSION, DISTRIBUTED, SEEN, CURRENT, MEMBER, ADMISSION)


def as_error(stop: Stop) -> Exception:
    """A refusal as the exception a direct caller expects (the core's own, or a ServiceError)."""
    return stop.error or ServiceError(stop.reason)
