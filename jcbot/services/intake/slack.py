"""The intake of a Slack click (Affirm, or the Object pop-up's submission).

Who clicked is known before: the listener maps the Slack user to their member handle
(which may ask Slack's API for the user's email, so it happens outside any
transaction). The rest is one chain in one transaction, as for an email reply.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from jcbot.services.context import ServiceContext
from jcbot.services.intake import Case, Input, Outcome, Rule, Stop, take, take_many
from jcbot.services.intake import rules as common

# A double click sends two requests with different action ids, seconds apart.
REPEAT_WINDOW = timedelta(seconds=10)


def _repeated(case: Case) -> Stop | None:
    assert case.version is not None
    # The member's last assertion on this version, from the version's assertions the
    # intake read once (in recorded order: by instant, then id).
    last = next((r for r in reversed(case.records()) if r.member == case.handle), None)
    if last is None or last.channel != "slack" or last.position != case.position:
        return None
    if (last.opinion or None) != case.opinion or case.tx.now - last.recorded_at > REPEAT_WINDOW:
        return None
    return Stop("duplicate", "the same click twice within seconds", assertion_id=last.id)


REPEATED = Rule("repeated-click", "not the member's same Slack answer again within seconds (a double click)", _repeated)
RULES = (common.PROPOSAL, common.VERSION, common.DISTRIBUTED, common.SEEN, common.MEMBER, REPEATED, common.CURRENT,
         common.ADMISSION)


@dataclass(frozen=True)
class Click:
    """Member `handle`'s answer from Slack user `user_id` on `ref` version `version`."""

    user_id: str
    handle: str
    ref: str
    version: int
    position: str
    opinion: str | None
    evidence_key: str

    def input(self) -> Input:
        opinion = self.opinion.strip() if self.opinion and self.opinion.strip() else None
        return Input(f"slack:{self.user_id}", RULES, lambda tx: Case(
            tx, "slack", self.evidence_key, self.position, opinion, ref=self.ref, version_no=self.version,
            handle=self.handle))


def click(ctx: ServiceContext, user_id: str, handle: str, ref: str, version: int, position: str,
          opinion: str | None, evidence_key: str) -> Outcome:
    """Record member `handle`'s answer from Slack user `user_id` on `ref` version `version`, once."""
    one = Click(user_id, handle, ref, version, position, opinion, evidence_key).input()
    return take(ctx, one.actor, one.rules, one.make_case)


def clicks(ctx: ServiceContext, burst: list[Click], budget_s: float | None = None) -> list[Outcome | Exception]:
    """A burst of clicks in order, in one transaction (`take_many`): results for the first, within `budget_s`."""
    return take_many(ctx, [c.input() for c in burst], budget_s)
