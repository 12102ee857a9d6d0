"""The project cycle's duties for a committee: overdue completeness checks, cases no proposal carries.

The core judges (`core.duties.case_duties` from each case's `CaseView`); this module only
gathers the views of the cases still open. The dashboard, the duty notices of the
reminders service and `jcbot pending` all read duties from here.
"""
from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from jcbot.core.cycle import CaseView, final
from jcbot.core.duties import Duty, case_duties
from jcbot.services.case_flow import load, view_of
from jcbot.services.context import ServiceContext
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import committee_rules
from jcbot.store.cases import Case
from jcbot.store.models import Committee

SUBJECTS = {"check_overdue": "completeness check overdue", "awaiting_proposal": "awaits a JC proposal"}


def open_views(session: Session, c: Committee, at: datetime) -> list[tuple[Case, CaseView]]:
    """The committee's cases not settled for good, each as the core sees it at `at`."""
    # A final state never changes with time, so the stored state is enough to skip it.
    rows = session.exec(select(Case).where(Case.committee_id == c.id).order_by(Case.id))
    return [(case, view_of(load(session, case), at)) for case in rows
            if not final(case.kind, case.state)]  # type: ignore[arg-type]


def of_committee(session: Session, c: Committee, at: datetime) -> list[Duty]:
    """What the committee's cases ask of the secretariat and the co-chairs at `at`."""
    views = [(case.ref, case.title, view) for case, view in open_views(session, c, at)]
    return case_duties(views, committee_rules(c).tz, at)


def subject(c: Committee, duty: Duty) -> str:
    """The subject of a case duty's notice."""
    return f"[JC-{c.code}] {duty.case}: {SUBJECTS.get(duty.kind, duty.kind.replace('_', ' '))}"


def pending(ctx: ServiceContext, slug: str | None = None) -> list[tuple[Committee, Duty]]:
    """Every committee's (or one's) case duties now, for `jcbot pending`."""
    with ctx.read() as tx:
        q = select(Committee).order_by(Committee.id)
        if slug:
            q = q.where(Committee.id == get_committee(tx.session, slug).id)
        return [(c, duty) for c in tx.session.exec(q) for duty in of_committee(tx.session, c, tx.now)]
