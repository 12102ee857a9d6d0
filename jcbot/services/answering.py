"""A member's page of one proposal on the web: what it says, what they answered, whether they may answer.

The answer itself goes through the web intake (`intake.web.answer`); this module only
reads. What it shows comes from the verdict (status, positions) and the stored
electorate, as every channel shows it.
"""
from __future__ import annotations

from dataclasses import dataclass

from jcbot.services import queries
from jcbot.services.board import days_text, when
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.viewers import Access, Viewer
from jcbot.store.models import AssertionRecord


@dataclass(frozen=True)
class AnswerPage:
    """One proposal as a member reads and answers it on the web."""

    view: queries.ProposalView
    access: Access               # the viewer in the proposal's committee
    deadline: str                # in the member's own zone
    days: str
    mine: AssertionRecord | None  # the member's latest assertion on this version (their position)
    mine_at: str
    can_answer: bool
    why_not: str | None          # why the forms are not shown

    @property
    def handle(self) -> str | None:
        return self.access.handle


def page(ctx: ServiceContext, who: Viewer, ref: str) -> AnswerPage:
    """The page of proposal `ref` for the signed-in `who` (ServiceError if there is no such proposal)."""
    view = queries.show(ctx, ref)
    v, verdict = view.version, view.verdict
    access = who.in_committee(view.committee.id)  # type: ignore[arg-type]
    if access is None:
        raise ServiceError(f"you are not a member of the {view.committee.name}, so {ref} is not shown to you")
    zone = access.timezone or view.committee.timezone
    handle = access.handle
    mine = next((a for a in reversed(view.assertions) if a.member == handle), None) if handle else None
    now = ctx.clock.now()  # for "days left" only; the verdict was judged at the read's instant
    why_not = None
    if handle is None:
        why_not = "The secretariat services the committee but does not assert; only its members answer."
    elif v.distributed_at is None or verdict is None:
        why_not = f"{ref} has not been distributed yet."
    elif verdict.final:
        why_not = f"{ref} is {verdict.status}; answers are no longer taken."
    elif handle not in (v.electorate or ()):
        why_not = "You were not a member of the committee when this proposal was distributed, so you cannot answer it."
    return AnswerPage(view, access, when(v.deadline, zone), days_text(view.days_left(now), v.status), mine,
                      when(mine.at, zone) if mine else "", why_not is None, why_not)
