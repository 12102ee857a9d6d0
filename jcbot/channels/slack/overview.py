"""What `/jc` and the App Home show: pure functions of proposal views, an identity and `now`.

Co-chairs, alternates and the secretariat see each open proposal with its days left,
tally, awaited members and negatives; a member sees what awaits their assertion.
"""
from __future__ import annotations

from datetime import datetime

from jcbot.core.decision import within_period
from jcbot.channels.slack.blocks import context, esc, header, items_text, position_blocks, section, when
from jcbot.services.queries import ProposalView
from jcbot.services.slack_identity import Identity
from jcbot.store.models import Decision

LIMIT = 20  # proposals per message: Slack refuses more than 50 blocks
HELP = ("*/jc pending* — what is open: for co-chairs, alternates and the secretariat every proposal with its tally, "
        "awaited members and negatives; for members what awaits your assertion.\n"
        "*/jc show REF* — one proposal, e.g. `/jc show MN-P-2026-003`.\n"
        "*/jc help* — this text.\n"
        "You assert with the buttons of the message jcbot sent you (or on jcbot's Home tab).")
NOT_KNOWN = ("jcbot does not know you as a member of a Joint Committee or of the secretariat. "
             "If you are one, ask the secretariat to link your Slack account "
             "(`jcbot member update COMMITTEE MEMBER --slack YOUR_USER_ID`) or to record the email your Slack profile shows.")


def days_left(view: ProposalView, now: datetime) -> str:
    left = view.days_left(now)
    if left is None:
        return "not distributed"
    return f"{left:.1f} days left" if left > 0 else "period over"


def tally(view: ProposalView) -> str:
    """'2 affirmative · 1 negative · 3 awaited of 6'."""
    v = view.verdict
    counted = v.tally if v else {"affirmative": 0, "negative": 0}
    electorate = len(view.version.electorate or ())
    return (f"{counted['affirmative']} affirmative · {counted['negative']} negative · "
            f"{len(v.awaiting) if v else 0} awaited of {electorate}")


def negatives(view: ProposalView) -> list[str]:
    """Each negative assertion with its opinion, marked when after the period or since withdrawn."""
    current = view.verdict.positions if view.verdict else {}
    out = []
    for a in view.assertions:
        if a.position != "negative":
            continue
        notes = []
        if view.version.deadline and not within_period(view.version.deadline, a.at):
            notes.append("after the period")
        if current.get(a.member) == "affirmative":
            notes.append("since affirmed")
        opinion = esc((a.opinion or "")[:300])
        out.append(f"• {a.member}{' (' + ', '.join(notes) + ')' if notes else ''}: “{opinion}”")
    return out


def full(view: ProposalView, now: datetime, tz: str | None = None) -> str:
    """One proposal as the co-chairs see it."""
    v, verdict = view.version, view.verdict
    seats = " · ".join(f"{s} {view.seat_holders.get(s) or 'VACANT'}: {p or 'no position'}"
                       for s, p in (verdict.seat_positions.items() if verdict else ()))
    lines = [f"*{view.proposal.ref}* v{v.version} _{esc(v.title)}_ — *{v.status}*, {days_left(view, now)} "
             f"(deadline {when(v.deadline, tz or view.committee.timezone)})",
             f"Tally: {tally(view)}", f"Seats: {seats or '-'}",
             f"Awaiting: {', '.join(verdict.awaiting) if verdict and verdict.awaiting else '-'}"]
    negs = negatives(view)
    lines.append("Negatives:\n" + "\n".join(negs) if negs else "Negatives: none")
    return "\n".join(lines)


def awaiting_line(view: ProposalView, now: datetime, tz: str | None) -> str:
    v = view.version
    return (f"*{view.proposal.ref}* _{esc(v.title)}_ ({esc(view.committee.name)}) — {days_left(view, now)}, "
            f"deadline {when(v.deadline, tz or view.committee.timezone)}")


def split(identity: Identity, views: list[ProposalView]) -> tuple[list[ProposalView], list[ProposalView]]:
    """(proposals the user oversees, proposals awaiting the user's own assertion)."""
    overseen = [v for v in views if identity.oversees(v.committee.id)]  # type: ignore[arg-type]
    awaiting = []
    for v in views:
        seat = identity.seat_in(v.committee.id)  # type: ignore[arg-type]
        if seat and v.verdict and seat.handle in v.verdict.awaiting:
            awaiting.append(v)
    return overseen, awaiting


def _zone(identity: Identity) -> str | None:
    return next((s.timezone for s in identity.seats if s.timezone), None)


def pending_blocks(identity: Identity, views: list[ProposalView], now: datetime) -> list[dict]:
    """The answer to `/jc pending`."""
    if not identity.known:
        return [section(NOT_KNOWN)]
    overseen, awaiting = split(identity, views)
    tz, out = _zone(identity), []
    if any(identity.oversees(s.committee_id) for s in identity.seats) or identity.secretariat:
        out.append(section(f"*Open proposals* ({len(overseen)})" if overseen else "*Open proposals*: none"))
        out += [section(full(v, now, tz)) for v in overseen[:LIMIT]]
        if len(overseen) > LIMIT:
            out.append(context(f"… and {len(overseen) - LIMIT} more (see the dashboard)."))
    if identity.seats:
        out.append(section("*Awaiting your assertion*\n" + "\n".join(awaiting_line(v, now, tz) for v in awaiting[:LIMIT])
                           if awaiting else "Nothing awaits your assertion."))
    return out


def show_blocks(identity: Identity, view: ProposalView, now: datetime) -> list[dict]:
    """The answer to `/jc show REF`: everything for those who oversee it; the essentials for members."""
    tz = _zone(identity) or view.committee.timezone
    if identity.oversees(view.committee.id):  # type: ignore[arg-type]
        return [section(full(view, now, tz)), section(f"*Items*\n{items_text(list(view.items))}")]
    seat = identity.seat_in(view.committee.id)  # type: ignore[arg-type]
    if seat is None:
        return [section(f"You are not a member of the {esc(view.committee.name)}, so jcbot shows you nothing about "
                        f"{view.proposal.ref}.")]
    mine = [a for a in view.assertions if a.member == seat.handle]
    position = f"*{mine[-1].position}* (recorded {when(mine[-1].at, tz)})" if mine else "none yet"
    v = view.version
    return [section(f"*{view.proposal.ref}* v{v.version} _{esc(v.title)}_ — {v.status}, {days_left(view, now)} "
                    f"(deadline {when(v.deadline, tz)})\n*Items*\n{items_text(list(view.items))}\nYour position: {position}")]


def home_view(identity: Identity, views: list[ProposalView], decisions: list[Decision], now: datetime) -> dict:
    """The App Home: pending proposals and recent decisions, or what awaits the member (with buttons)."""
    blocks: list[dict] = [header("Joint Committee decisions")]
    if not identity.known:
        blocks.append(section(NOT_KNOWN))
        return {"type": "home", "blocks": blocks}
    overseen, awaiting = split(identity, views)
    tz = _zone(identity)
    if identity.seats:
        blocks.append(section(f"*Awaiting your assertion* ({len(awaiting)})" if awaiting else "Nothing awaits your assertion."))
        for v in awaiting[:LIMIT]:
            blocks.append(section(awaiting_line(v, now, tz)))
            for b in position_blocks(v.proposal.ref, v.version.version, None):
                b["block_id"] = f"{b['block_id']}|{v.proposal.ref}"  # block ids must be unique in a view
                blocks.append(b)
    if overseen or identity.secretariat or any(identity.oversees(s.committee_id) for s in identity.seats):
        blocks += [{"type": "divider"}, section(f"*Open proposals* ({len(overseen)})" if overseen else "*Open proposals*: none")]
        blocks += [section(full(v, now, tz)) for v in overseen[:LIMIT]]
        lines = [f"• *{d.number}* _{esc(d.title)}_ — {d.basis.replace('_', ' ')}, {when(d.adopted_at, tz)}" for d in decisions]
        blocks.append(section("*Recent decisions*\n" + ("\n".join(lines) if lines else "none yet")))
    blocks.append(context("Type `/jc help` for the commands."))
    return {"type": "home", "blocks": blocks[:100]}
