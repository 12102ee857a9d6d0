"""A case's events through the cycle core, and what JC proposals do to the cases they carry.

The cycle's rules are the core's (`jcbot.core.cycle`); this module replays a case's stored
events, asks `evaluate` whether a new event is allowed (with the new event, at its
instant) and, only then, writes it with its audit event and notices, in the caller's
transaction. The proposal services call the hooks at the bottom (`on_distributed`,
`on_adopted`, `on_closed`), so a case advances in the same transaction as the JC's
decision. It imports no other proposal service: evaluation, proposals and meetings
import it.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from jcbot.core.cochairs import escalation_recipients
from jcbot.core.cycle import (
    EVENT_TYPES, CaseStart, CaseView, CycleRefused, DecisionAdopted, Event, IssuanceRequested, ProposalDistributed,
    ProposalWithdrawn, evaluate, number, number_due,
)
from jcbot.core.calendar import utc
from jcbot.services import registries
from jcbot.services.context import Notice, Recipient, ServiceError, Tx
from jcbot.services.notices import committee_data
from jcbot.services.numbering import next_value
from jcbot.services.roster_log import committee_rules, load_roster
from jcbot.store.cases import Case, CaseEvent, CaseItem
from jcbot.store.models import Committee, Decision, Member, Proposal, Secretariat

log = logging.getLogger(__name__)

# The proposal item that carries a case of each kind to the JC (services/numbering.ITEM_KINDS).
ITEM_KIND = {"methodology": "methodology_approval", "project": "project_registration",
             "issuance": "credit_issuance_notification", "tpe": "tpe_designation"}
PIN_ITEM = "pin_no_objection"  # a project in its `pin` stage: the JC's no objection to the planned project
PROPONENT = "proponent"


def item_kind(case: Case) -> str:
    """The item kind that carries `case` to the JC now: a project still in its PIN stage goes as a PIN."""
    return PIN_ITEM if case.kind == "project" and case.state == "pin" else ITEM_KIND[case.kind]


@dataclass(frozen=True)
class Loaded:
    """A case with what the core needs: its committee, its start and its events in recorded order."""

    case: Case
    committee: Committee
    start: CaseStart
    events: list[Event]


def request_of(data: dict[str, Any], at: datetime) -> IssuanceRequested:
    """The issuance request a case stores (amount, shares)."""
    return IssuanceRequested(at, int(data["amount"]), {str(k): int(v) for k, v in dict(data["shares"]).items()})


def to_event(kind: str, at: datetime, data: dict[str, Any]) -> Event:
    """A stored event back as the core's typed event."""
    if kind == "issuance_requested":
        return request_of(data, at)
    return EVENT_TYPES[kind](at=at, **data)


def event_data(ev: Event) -> dict[str, Any]:
    """A typed event as the data stored with it (everything but its instant)."""
    out = asdict(ev)
    out.pop("at")
    return {k: dict(v) if k == "shares" else v for k, v in out.items()}


def project_number(session: Session, case: Case) -> str | None:
    """An issuance's registered project number (the project case's latest number)."""
    if case.project_id is None:
        return None
    project = session.get(Case, case.project_id)
    return project.number if project is not None else None


def load(session: Session, case: Case) -> Loaded:
    """A case's committee, start and events (the first stored row is the start itself, not an event)."""
    committee = session.get(Committee, case.committee_id)
    assert committee is not None
    rows = list(session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))
    request = request_of(case.request, case.created_at) if case.kind == "issuance" and case.request else None
    start = CaseStart(case.kind, committee.code, case.created_at, case.seq, request,  # type: ignore[arg-type]
                      project_number(session, case))
    return Loaded(case, committee, start, [to_event(r.kind, r.at, r.data) for r in rows[1:]])


def view_of(loaded: Loaded, at: datetime) -> CaseView:
    """The case as the core sees it at `at`."""
    last = max((utc(e.at) for e in loaded.events), default=utc(loaded.start.at))
    return evaluate(loaded.start, loaded.events, committee_rules(loaded.committee), max(utc(at), last))


def find(session: Session, ref: str, lock: bool = False) -> Case:
    """A case by its reference (`lock`: for a change, on PostgreSQL)."""
    q = select(Case).where(Case.ref == ref.strip())
    case = session.exec(q.with_for_update() if lock else q).first()
    if case is None:
        raise ServiceError(f"no case {ref!r} (jcbot case list shows them)")
    return case


def refusal(case: Case, exc: CycleRefused) -> ServiceError:
    """The core's refusal as the service's: one line naming the case and the event."""
    return ServiceError(f"{case.ref}: {exc.event or 'event'} refused: {exc}")


def check(loaded: Loaded, ev: Event) -> CaseView:
    """The case with `ev` added, at its instant; ServiceError naming the event if the core refuses it."""
    try:
        return view_of(Loaded(loaded.case, loaded.committee, loaded.start, [*loaded.events, ev]), ev.at)
    except CycleRefused as exc:
        raise refusal(loaded.case, exc) from None


def cache(tx: Tx, case: Case, view: CaseView) -> None:
    """Keep the case row's state and numbers as the core last said."""
    case.state, case.number, case.numbers = view.state, view.number, list(view.numbers)
    tx.session.add(case)


def record(tx: Tx, loaded: Loaded, ev: Event, *, hashes: list[str] | None = None, note: str | None = None,
           extra: dict[str, Any] | None = None) -> tuple[CaseEvent, CaseView]:
    """Write `ev` (checked by the core first) with its audit event; returns the row and the new view."""
    view = check(loaded, ev)
    case = loaded.case
    row = CaseEvent(case_id=case.id, at=ev.at, kind=ev.name, data=event_data(ev), actor=tx.actor,
                    documents=hashes or None, note=note)
    tx.session.add(row)
    tx.session.flush()
    cache(tx, case, view)
    tx.audit(f"case.{ev.name}", f"case:{case.ref}", {
        "event": ev.name, "at": ev.at, **event_data(ev), "state": view.state, "number": view.number,
    } | ({"documents": hashes} if hashes else {}) | ({"note": note} if note else {}) | (extra or {}),
        loaded.committee.id)
    return row, view


# ---- who hears of a case

def staff(session: Session, c: Committee, at: datetime) -> list[Recipient]:
    """The co-chairs, their active alternates and the secretariat of a committee."""
    roster = load_roster(session, c)
    members = {m.handle: m for m in session.exec(select(Member).where(Member.committee_id == c.id))}
    out = [Recipient(h, members[h].name, members[h].id, members[h].email, members[h].slack_user_id, members[h].timezone)
           for h in escalation_recipients(roster, at) if h in members]
    q = select(Secretariat).where((Secretariat.committee_id == c.id) | (Secretariat.committee_id.is_(None)))  # type: ignore[union-attr]
    out.extend(Recipient(f"secretariat:{s.id}", s.name, None, s.email, s.slack_user_id) for s in session.exec(q))
    return out


def case_data(case: Case, view: CaseView | None = None) -> dict[str, Any]:
    """A case as notices name it."""
    out: dict[str, Any] = {"ref": case.ref, "kind": case.kind, "title": case.title, "state": case.state,
                           "number": case.number, "proponent": case.proponent}
    if view is not None:
        out |= {"state": view.state, "number": view.number,
                "windows": {n: {"start": w.start.isoformat(), "end": w.end.isoformat()} for n, w in view.windows.items()}}
    return out


def tell(tx: Tx, c: Committee, case: Case, occasion: str, headline: str, lines: list[str],
         proponent: bool = True, view: CaseView | None = None, extra: dict[str, Any] | None = None) -> None:
    """A `case` notice about `occasion` to the proponent (if asked) and the committee's staff, once each."""
    data = {"committee": committee_data(c), "case": case_data(case, view), "headline": headline, "lines": lines,
            "subject": f"[JC-{c.code}] {case.ref}: {headline}"} | (extra or {})
    to = staff(tx.session, c, tx.now)
    if proponent:
        to.insert(0, Recipient(PROPONENT, case.proponent, None, case.proponent))
    seen: set[str] = set()
    for r in to:
        if r.handle in seen:
            continue
        seen.add(r.handle)
        payload = data | {"recipient": {"handle": r.handle, "name": r.name, "member_id": r.member_id,
                                        "timezone": r.timezone}}
        tx.notify(Notice("case", f"case:{case.ref}:{occasion}:{r.handle}", r, payload, c.id, None, ("email",)))


# ---- what proposals do to the cases they carry

def carried(session: Session, proposal_id: int) -> list[tuple[CaseItem, Case]]:
    """The cases a proposal's items carry, by item position."""
    q = (select(CaseItem, Case).join(Case, Case.id == CaseItem.case_id)
         .where(CaseItem.proposal_id == proposal_id).order_by(CaseItem.position))
    return list(session.exec(q))


def _lock(tx: Tx, case: Case) -> Case:
    if tx.session.get_bind().dialect.name == "postgresql":
        tx.session.refresh(case, with_for_update=True)
    return case


def on_distributed(tx: Tx, c: Committee, p: Proposal, items: list[dict[str, Any]]) -> None:
    """A proposal carrying cases was distributed: each case records ProposalDistributed (or the distribution is refused)."""
    for link, case in carried(tx.session, p.id):  # type: ignore[arg-type]
        item = items[link.position - 1] if link.position <= len(items) else None
        if item is None or item["kind"] != item_kind(case):
            raise ServiceError(f"{p.ref}: item {link.position} no longer carries case {case.ref} (a {item_kind(case)} "
                               "item); revise the proposal with the case's item, or draft a new one with jcbot case propose")
        loaded = load(tx.session, _lock(tx, case))
        _, view = record(tx, loaded, ProposalDistributed(tx.now, p.ref), extra={"proposal": p.ref, "item": link.position})
        tell(tx, c, case, f"distributed:{p.ref}:{tx.now.isoformat()}", f"before the Joint Committee in {p.ref}",
             [f"{case.ref} ({case.title}) is before the Joint Committee in the proposed decision {p.ref}.",
              "The Joint Committee decides on it by electronic means or at a meeting."], view=view)


def _seq(case: Case, c: Committee, series: str | None, item: dict[str, Any], tx: Tx) -> int | None:
    """The sequence of the number the decision gives: the item's own reference (AM, PIN, project;
    services/numbering.item_reference), so the case's number is the one the decision shows."""
    if series is None:
        return None
    ref = item.get("reference") or ""
    digits = ref.rsplit(f"_{series}", 1)[-1] if series in ("AM", "PIN") else ref.removeprefix(c.code)
    if not digits.isdigit() or number(c.code, series, int(digits)) != ref:  # type: ignore[arg-type]
        raise ServiceError(f"{case.ref}: the adopted item's reference {ref!r} is not a {series} number of {c.code}")
    return int(digits)


def on_adopted(tx: Tx, c: Committee, p: Proposal, decision: Decision) -> list[Case]:
    """The JC adopted a proposal: every case it carries records DecisionAdopted, at the decision's instant."""
    moved = []
    for link, case in carried(tx.session, p.id):  # type: ignore[arg-type]
        loaded = load(tx.session, _lock(tx, case))
        at = max([utc(decision.adopted_at), *(utc(e.at) for e in loaded.events)])
        before = view_of(loaded, at)
        if before.proposal != p.ref:
            continue  # another proposal carries it now (this one was superseded for it)
        item = decision.items[link.position - 1] if link.position <= len(decision.items) else {}
        ev = DecisionAdopted(at, link.outcome, None)  # type: ignore[arg-type]
        try:
            ev = DecisionAdopted(at, link.outcome, _seq(case, c, number_due(before, ev), item, tx))  # type: ignore[arg-type]
            _, view = record(tx, loaded, ev, extra={"proposal": p.ref, "decision": decision.number,
                                                    "item": link.position})
        except ServiceError as exc:
            # The JC's decision stands whatever a case says: it is recorded, and the refusal is said aloud.
            log.error("event=case.decision_refused case=%s decision=%s reason=%s", case.ref, decision.number, exc)
            tx.audit("case.decision_refused", f"case:{case.ref}", {"decision": decision.number, "reason": str(exc)}, c.id)
            continue
        moved.append(case)
        tell(tx, c, case, f"decided:{decision.number}", f"{view.state}" + (f" as {view.number}" if view.number
                                                                             and view.state in ("approved", "registered", "pin")
                                                                             else ""),
             [f"The Joint Committee adopted decision {decision.number} ({decision.title}).",
              f"{case.ref} ({case.title}) is now {view.state}" + (f", number {view.number}." if view.number else ".")],
             view=view, extra={"decision": {"number": decision.number, "adopted_at": decision.adopted_at.isoformat()}})
        if case.kind == "issuance" and view.state == "notified":
            registries.notify(tx, c, case, decision, project_number(tx.session, case))
    return moved


def on_closed(tx: Tx, c: Committee, p: Proposal, status: str) -> None:
    """A proposal withdrawn or lapsed: its cases record ProposalWithdrawn and await a new one (referred: still carried)."""
    if status not in ("withdrawn", "lapsed"):
        return
    for _, case in carried(tx.session, p.id):  # type: ignore[arg-type]
        loaded = load(tx.session, _lock(tx, case))
        if view_of(loaded, tx.now).proposal != p.ref:
            continue
        _, view = record(tx, loaded, ProposalWithdrawn(tx.now, p.ref), extra={"proposal": p.ref, "status": status})
        tell(tx, c, case, f"{status}:{p.ref}", f"awaiting a new proposal ({p.ref} {status})",
             [f"The proposed decision {p.ref} that carried {case.ref} was {status}.",
              f"{case.ref} awaits the Joint Committee's decision in a new proposal (jcbot case propose {case.ref})."],
             proponent=False, view=view)


def new_ref(tx: Tx, c: Committee) -> str:
    """MN-C-2026-001: the n-th case of the committee in that year (committee's time zone)."""
    year = tx.now.astimezone(committee_rules(c).tz).year
    return f"{c.code}-C-{year}-{next_value(tx.session, c.id, f'case-{year}'):03d}"  # type: ignore[arg-type]
