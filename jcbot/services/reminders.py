"""Reminders, the co-chairs' daily digest and calendar duties: what the calendar sends.

Each notice has a key naming its occasion (version, member, mark; committee, day; duty),
so running these twice, late, or on two machines sends each reminder once.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import time

from sqlmodel import Session, func, select

from jcbot.core.decision import within_period
from jcbot.core.duties import calendar_duties, due_reminder, seats_missing_affirmation
from jcbot.core.roster import Roster
from jcbot.services import case_duties, notices, reach
from jcbot.services.context import Notice, Recipient, ServiceContext, Tx
from jcbot.services.evaluation import OPEN_STATUSES, cochair_recipients, gather, members_by_handle, recipient, verdict_of
from jcbot.services.roster_log import committee_rules, load_roster
from jcbot.store import outbox
from jcbot.store.models import Committee, Meeting, Proposal, ProposalVersion, Secretariat

DIGEST_AT = time(8, 0)  # local time of the committee


def _open_versions(session: Session) -> list[tuple[Committee, Proposal, ProposalVersion]]:
    q = (select(Committee, Proposal, ProposalVersion)
         .join(Proposal, Proposal.committee_id == Committee.id)
         .join(ProposalVersion, ProposalVersion.proposal_id == Proposal.id)
         .where(ProposalVersion.status.in_(OPEN_STATUSES)))  # type: ignore[attr-defined]
    return list(session.exec(q))


def _enqueue_due(ctx: ServiceContext, actor: str, judge: Callable[[Tx], list[Notice]]) -> int:
    """Judge in a read-only snapshot what is due; take the write lock only to enqueue what is not yet.

    The scheduler runs these every tick over every committee: holding the write lock while
    judging would queue every assertion and the dispatcher behind it, to find that nothing
    is due. Notices are keyed, so a notice judged twice (here and on another replica) is
    enqueued once.
    """
    with ctx.read(actor) as tx:
        due = [n for n in judge(tx) if tx.pending_notice(n)]
    if not due:
        return 0
    with ctx.tx(actor) as tx:
        return tx.notify_all(due)


def send_reminders(ctx: ServiceContext, actor: str = "scheduler") -> int:
    """Remind awaited members (and co-chairs whose seat's affirmation is missing); returns notices enqueued."""
    return _enqueue_due(ctx, actor, _due_reminders)


def _due_reminders(tx: Tx) -> list[Notice]:
    out: list[Notice] = []
    rosters: dict[int, Roster] = {}
    for c, p, v in _open_versions(tx.session):
        roster = rosters.setdefault(c.id, load_roster(tx.session, c))  # type: ignore[arg-type]
        mark = due_reminder(v.deadline, roster.rules.reminders.days_before_deadline, tx.now)  # type: ignore[arg-type]
        period_over = not within_period(v.deadline, tx.now)  # type: ignore[arg-type]
        occasion = str(mark) if mark is not None else ("after" if period_over else None)
        if occasion is None:
            continue
        facts = gather(tx.session, c, p, v, roster)
        verdict = verdict_of(facts, tx.now)
        if verdict.final:
            continue  # the sweep settles it
        by_handle = members_by_handle(tx.session, c)
        if mark is not None:
            # The documents again, with their links: a reminder repeats the distribution.
            extra = {"days_before": mark, "awaiting": list(verdict.awaiting)} | notices.documents_data(tx.session, v.id)  # type: ignore[arg-type]
            for handle in verdict.awaiting:
                out.append(notices.proposal_notice("reminder", facts, recipient(by_handle[handle]), extra, key_suffix=str(mark)))
        # Without both seats' affirmation the no-objection path cannot complete.
        if verdict.counting_negatives:
            continue
        for seat in seats_missing_affirmation(verdict):
            for handle in filter(None, (roster.holder(seat, tx.now), roster.alternate(seat, tx.now))):
                extra = {"seat": seat, "days_before": mark, "period_over": period_over}
                out.append(notices.proposal_notice("seat_reminder", facts, recipient(by_handle[handle]), extra,
                                                   key_suffix=f"{seat}:{occasion}"))
    return out


def _staff(session: Session, c: Committee, roster: Roster, tx: Tx) -> list[Recipient]:
    """Co-chairs, alternates and the secretariat of a committee."""
    out = cochair_recipients(session, c, roster, tx.now)
    for s in session.exec(select(Secretariat).where((Secretariat.committee_id == c.id) | (Secretariat.committee_id.is_(None)))):  # type: ignore[union-attr]
        out.append(Recipient(f"secretariat:{s.id}", s.name, None, s.email, s.slack_user_id))
    return out


def send_digests(ctx: ServiceContext, actor: str = "scheduler") -> int:
    """Once a day (08:00 committee time), what is pending, to the co-chairs of committees that ask for it.

    Pending includes what did not reach its member: the committee's delivery problems
    (failed for good, bounced after sending, being retried) and the members no notice
    reaches, as the dashboard and `jcbot pending` show them.
    """
    return _enqueue_due(ctx, actor, _due_digests)


def _problem_line(m: outbox.OutboxMessage) -> str:
    """One delivery problem as a digest line, naming the command that shows it."""
    error = " ".join((m.last_error or "").split())
    error = error if len(error) <= 200 else error[:197] + "..."
    if m.status == "bounced":
        state = error if error.startswith("bounced") else f"bounced after sending: {error or 'no diagnostic'}"
    elif m.status == "failed":
        state = f"failed for good after {m.attempts} attempt{'s' if m.attempts != 1 else ''}: {error or 'no error'}"
    else:
        state = f"not delivered yet, retrying ({m.attempts} attempt{'s' if m.attempts != 1 else ''}): {error}"
    return f"Delivery problem: {m.kind} ({m.channel}) to {m.recipient} {state} (jcbot outbox show {m.id})"


def _due_digests(tx: Tx) -> list[Notice]:
    out: list[Notice] = []
    problems: dict[int | None, list[outbox.OutboxMessage]] = {}
    for m in outbox.problems(tx.session):
        problems.setdefault(m.committee_id, []).append(m)
    for c in tx.session.exec(select(Committee)):
        rules = committee_rules(c)
        local = tx.now.astimezone(rules.tz)
        if not rules.reminders.daily_digest or local.time() < DIGEST_AT:
            continue
        roster = load_roster(tx.session, c)
        lines = []
        for cc, p, v in _open_versions(tx.session):
            if cc.id != c.id:
                continue
            verdict = verdict_of(gather(tx.session, c, p, v, roster), tx.now)
            days = (v.deadline - tx.now).total_seconds() / 86400  # type: ignore[operator]
            lines.append(f"{p.ref} {v.title}: {verdict.status}, {days:.1f} days left, awaiting "
                         f"{', '.join(verdict.awaiting) or 'nobody'}; negatives {', '.join(verdict.negatives) or 'none'}")
        # What did not reach its member: the dashboard's "Delivery problems", in the digest too.
        lost = reach.unreachable(tx.session, c, tx.now)
        if lost:
            lines.append(reach.warning(lost))
        lines.extend(_problem_line(m) for m in problems.get(c.id, []))
        if not lines:
            continue
        data = {"committee": {"slug": c.slug, "name": c.name, "code": c.code, "timezone": c.timezone}, "lines": lines,
                "date": local.date().isoformat()}
        for r in _staff(tx.session, c, roster, tx):
            out.append(Notice("digest", f"digest:{c.id}:{local.date()}:{r.handle}", r, data, c.id))
    return out


def flag_duties(ctx: ServiceContext, actor: str = "scheduler") -> int:
    """Calendar and case duties to the secretariat and co-chairs, once each (a case's once a day while it lasts).

    Calendar: co-chair terms ending or ended, a year without a meeting. Cases: a
    completeness check overdue, a case awaiting the JC that no proposal carries.
    """
    return _enqueue_due(ctx, actor, _due_duties)


def _due_duties(tx: Tx) -> list[Notice]:
    out: list[Notice] = []
    for c in tx.session.exec(select(Committee)):
        roster = load_roster(tx.session, c)
        last = tx.session.exec(select(func.max(Meeting.held_on)).where(Meeting.committee_id == c.id)).one()
        created = c.created_at.astimezone(roster.rules.tz).date()
        staff = _staff(tx.session, c, roster, tx)
        if not staff:
            # Both seats vacant and no secretariat registered: someone must still hear of it.
            by_handle = members_by_handle(tx.session, c)
            staff = [recipient(by_handle[h]) for h in roster.active_members(tx.now) if h in by_handle]
        for duty in calendar_duties(roster, last, created, tx.now) + case_duties.of_committee(tx.session, c, tx.now):
            data = {"committee": {"slug": c.slug, "name": c.name, "code": c.code, "timezone": c.timezone},
                    "duty": duty.kind, "lines": [duty.text]}
            if duty.case is not None:
                data |= {"case": duty.case, "subject": case_duties.subject(c, duty)}
            out.extend(Notice("duty", f"duty:{c.id}:{duty.key}:{r.handle}", r, data, c.id) for r in staff)
    return out
