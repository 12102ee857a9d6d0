"""The intake of an answer given on the web page of a proposal (/answer/{ref}).

Who answers is known before: the signed-in session's email address resolves to that
person's member handle in the proposal's committee. The form carries the version it
showed and a nonce of its own, so a double submit of one form is one piece of
evidence (recorded once) while a later form, even with the same answer, is a new one.
"""
from __future__ import annotations

from jcbot.services.context import ServiceContext
from jcbot.services.intake import Case, Outcome, Rule, Stop, take
from jcbot.services.intake import rules as common
from jcbot.services.viewers import normalize_email


def _signed_in(case: Case) -> Stop | None:
    m = case.member
    assert m is not None
    # The session resolved the member from its email before this transaction: if the
    # address changed meanwhile, the signed-in person no longer speaks for this member.
    if normalize_email(m.email or "") != case.extra.get("email"):
        return case.refuse(f"{m.handle}: the signed-in address is no longer this member's; sign in again")
    return None


SIGNED_IN = Rule("signed-in", "the member still has the signed-in email address", _signed_in)
RULES = (common.PROPOSAL, common.VERSION, common.DISTRIBUTED, common.SEEN, common.MEMBER, SIGNED_IN, common.CURRENT,
         common.ADMISSION)


def evidence_key(handle: str, nonce: str) -> str:
    """One form's submission by one member (a forged nonce can only collide with the member's own)."""
    return f"web:{handle}:{nonce}"


def answer(ctx: ServiceContext, email: str, handle: str, ref: str, version: int, position: str,
           opinion: str | None, nonce: str) -> Outcome:
    """Record member `handle`'s answer, signed in as `email`, on `ref` version `version`, once per form."""
    opinion = opinion.strip() if opinion and opinion.strip() else None
    email = normalize_email(email)

    def case(tx) -> Case:
        c = Case(tx, "web", evidence_key(handle, nonce), position, opinion, ref=ref, version_no=version, handle=handle)
        c.extra["email"] = email
        return c

    return take(ctx, f"web:{email}", RULES, case)
