"""Meetings of the JC and the decisions they took by consensus."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from jcbot.services import case_flow, notices
from jcbot.services.context import ServiceContext, ServiceError, Tx
from jcbot.services.evaluation import Facts, gather, members_by_handle, recipient
from jcbot.services.numbering import decision_number, item_reference
from jcbot.services.proposals import Item, _check_items, get_proposal
from jcbot.services.roster import get_committee
from jcbot.services.roster_log import load_roster
from jcbot.store.models import Committee, Decision, Meeting


@dataclass(frozen=True)
class MeetingDecision:
    """A decision taken at a meeting; `proposal` names a referred proposal it settles."""

    title: str
    text: str
    items: list[Item]
    proposal: str | None = None


def record_meeting(ctx: ServiceContext, slug: str, title: str, held_on: date, place: str,
                   decisions: list[MeetingDecision], actor: str) -> tuple[Meeting, list[Decision]]:
    """Record a meeting and its decisions (published like electronic ones)."""
    if not title.strip() or not place.strip():
        raise ServiceError("a meeting needs a title (e.g. '3rd Joint Committee') and a place")
    with ctx.tx(actor) as tx:
        c = get_committee(tx.session, slug)
        # "Today" in the committee's calendar: Tokyo's morning is still yesterday in UTC.
        if held_on > tx.now.astimezone(ZoneInfo(c.timezone)).date():
            raise ServiceError(f"a meeting held on {held_on} is in the future; record it once it took place")
        m = Meeting(committee_id=c.id, title=title.strip(), held_on=held_on, place=place.strip(), recorded_at=tx.now)
        tx.session.add(m)
        tx.session.flush()
        out = []
        for d in decisions:
            version_id, proposal_facts = None, None
            if d.proposal:
                pc, p, v = get_proposal(tx.session, d.proposal, lock=True)
                # The proposal's status, not the version's: the version stays "referred"
                # (its electronic outcome) while the proposal becomes "adopted", once.
                if pc.id != c.id or p.status != "referred":
                    raise ServiceError(f"{d.proposal} is {p.status}, not referred to a meeting of {slug}")
                p.status, version_id = "adopted", v.id
                tx.session.add(p)
                proposal_facts = gather(tx.session, c, p, v)
            _check_items(d.items)  # after the proposal: "not referred" says more than "no items"
            items = [{"kind": i.kind, "title": i.title,
                      "reference": i.reference or item_reference(tx.session, c, i.kind)} for i in d.items]
            # A meeting records a date, not an instant: noon local marks the day unambiguously.
            adopted_at = datetime.combine(held_on, time(12), tzinfo=ZoneInfo(c.timezone))
            dec = Decision(committee_id=c.id, number=decision_number(tx.session, c, adopted_at), title=d.title,
                           text=d.text, items=items, basis="meeting", adopted_at=adopted_at, meeting_id=m.id,
                           version_id=version_id)
            tx.session.add(dec)
            tx.session.flush()
            ev = tx.audit("decision.recorded", f"decision:{dec.number}", {
                "meeting": m.title, "held_on": held_on, "place": m.place, "title": d.title, "items": items,
                "text_sha256": hashlib.sha256(d.text.encode("utf-8")).hexdigest(),
                "proposal": d.proposal}, c.id)
            dec.audit_hash = ev.hash
            if d.proposal:  # the cases the referred proposal carries advance with the meeting's decision
                case_flow.on_adopted(tx, c, p, dec)
            out.append(dec)
            _notify(tx, c, dec, m, proposal_facts)
        tx.audit("meeting.recorded", f"committee:{slug}", {"title": m.title, "held_on": held_on, "place": m.place,
                                                           "decisions": [d.number for d in out]}, c.id)
        return m, out


def _notify(tx: Tx, c: Committee, d: Decision, m: Meeting, facts: Facts | None) -> None:
    """Tell every active member and the committee channel, as for an electronic adoption."""
    proposal = None
    if facts is not None:  # the referred proposal it settled, with the references just given
        proposal = notices.proposal_data(facts, items=list(d.items))["proposal"]
    by_handle = members_by_handle(tx.session, c)
    roster = facts.roster if facts is not None else load_roster(tx.session, c)
    for handle in roster.active_members(tx.now):
        if handle in by_handle:
            tx.notify(notices.meeting_notice(c, d, m, recipient(by_handle[handle]), proposal))
    tx.notify(notices.meeting_notice(c, d, m, notices.Recipient(notices.ANNOUNCE, c.name), proposal))
