"""Decisions by electronic means (PROCEDURE.md, 1-8): distribution, assertions, verdict.

`evaluate` replays the facts of one distribution (assertions, departures of electorate
members, the deadline, a co-chairs' closure) in time order and returns the verdict at
`now` with a trace of why. It is the only place the adoption conditions are written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from datetime import datetime
from typing import Literal

from jcbot.core.calendar import period_day, period_deadline, require_aware, utc
from jcbot.core.errors import AssertionRefused, DistributionRefused
from jcbot.core.roster import GOVERNMENTS, Government, Roster
from jcbot.core.trace import Step, describe_at

Position = Literal["affirmative", "negative"]
POSITIONS: tuple[Position, Position] = ("affirmative", "negative")
Status = Literal["adopted", "objected", "open", "lapsed", "withdrawn", "superseded", "referred"]
Basis = Literal["no_objection", "unanimous"]
ClosureStatus = Literal["withdrawn", "superseded", "referred"]


@dataclass(frozen=True)
class Distribution:
    """A distributed version: its instant, frozen electorate and deadline."""

    distributed_at: datetime
    deadline: datetime
    electorate: tuple[str, ...]


@dataclass(frozen=True)
class Assertion:
    """One recorded assertion; `ref` ties it to its evidence for the trace."""

    member: str
    position: Position
    at: datetime
    opinion: str | None = None
    ref: str | None = None
    # The seats it also asserts, if fixed when it was made (equal instants in file order);
    # None: read from the roster at `at`.
    seats: tuple[Government, ...] | None = None
    # How many roster changes preceded it (file order at one instant); None: after them all.
    seq: int | None = None


@dataclass(frozen=True)
class Closure:
    """The co-chairs' outcome for a version: withdrawn, superseded or referred."""

    status: ClosureStatus
    at: datetime


@dataclass(frozen=True)
class Verdict:
    """The state of one distribution at one instant, and why."""

    status: Status
    basis: Basis | None
    adopted_at: datetime | None
    deadline: datetime
    negatives: tuple[str, ...]           # members with a negative within the period
    counting_negatives: tuple[str, ...]  # those that (still) count against no-objection
    awaiting: tuple[str, ...]            # active electorate members who never asserted
    escalations: tuple[Assertion, ...]   # every negative assertion, to the co-chairs
    positions: dict[str, Position]
    seat_positions: dict[Government, Position | None]
    lapsed_at: datetime | None
    closed: Closure | None
    next_change: datetime | None         # when time alone can change the verdict
    trace: tuple[Step, ...] = field(default=())

    @property
    def final(self) -> bool:
        return self.status in ("adopted", "lapsed", "withdrawn", "superseded", "referred")

    @property
    def tally(self) -> dict[str, int]:
        """How many members' current positions are affirmative and negative."""
        values = list(self.positions.values())
        return {"affirmative": values.count("affirmative"), "negative": values.count("negative")}


def distribute(roster: Roster, at: datetime) -> Distribution:
    """Open a version at `at`: refused while a seat is vacant; fixes electorate and deadline."""
    at = utc(at, "distributed_at")
    vacant = roster.vacant_seats(at)
    if vacant:
        seats = " and ".join(f"the {s} co-chair seat" for s in vacant)
        raise DistributionRefused(f"cannot distribute: {seats} {'is' if len(vacant) == 1 else 'are'} vacant; record a co-chair election first")
    rules = roster.rules
    deadline = period_deadline(at, rules.electronic_decision, rules.tz)
    return Distribution(at, deadline, roster.active_members(at))


def within_period(deadline: datetime, at: datetime) -> bool:
    """PROCEDURE 5 (i): an assertion made before the deadline instant is within the period.

    Compared as instants: "2026-03-23T23:30+09:00" is before "2026-03-23T16:00Z" + 1 s,
    whatever their spellings say.
    """
    return utc(at, "at") < utc(deadline, "deadline")


def check_assertion(
    dist: Distribution, roster: Roster, member: str, position: str, at: datetime,
    opinion: str | None = None, closure: Closure | None = None,
) -> None:
    """Refuse (AssertionRefused) an assertion PROCEDURE.md 3 does not allow; else return."""
    require_aware(at)
    if position not in POSITIONS:
        raise AssertionRefused(f"{member}: an assertion is 'affirmative' or 'negative', got {position!r}")
    if at < dist.distributed_at:
        raise AssertionRefused(
            f"{member}: assertion at {at.isoformat()} is before the distribution at {dist.distributed_at.isoformat()}"
        )
    if closure is not None and at >= closure.at:
        raise AssertionRefused(f"{member}: the proposal was {closure.status} at {closure.at.isoformat()}")
    if member not in dist.electorate:
        why = "was not a member of the JC when it was distributed" if roster.knows(member) else "is not a member of the JC"
        raise AssertionRefused(f"{member} {why}, so cannot assert on this proposal")
    if not roster.is_active(member, at):
        raise AssertionRefused(f"{member} is no longer an active member of the JC, so cannot assert")
    if position == "negative" and not (opinion or "").strip():
        raise AssertionRefused(f"{member}: a negative assertion must carry the member's opinion", field="opinion")


@dataclass(frozen=True)
class Admission:
    """The core's answer to "may this assertion be recorded now?", when it may."""

    ignored: bool    # recorded, but the outcome was already settled when it was made (PROCEDURE 6)
    escalate: bool   # goes at once to both co-chairs (PROCEDURE 7: every negative)
    within_period: bool


def admit(
    dist: Distribution, roster: Roster, assertions: list[Assertion] | tuple[Assertion, ...],
    member: str, position: str, at: datetime, now: datetime,
    opinion: str | None = None, closure: Closure | None = None,
) -> Admission:
    """Whether `member`'s assertion made at `at` may be recorded at `now`; AssertionRefused if not.

    On top of `check_assertion`: a version the co-chairs closed takes no assertion, and an
    outcome settled by `now` is final (PROCEDURE 6) - an assertion dated before the
    settlement (a letter, a reply queued by the mail system) cannot be added after it.
    """
    at, now = utc(at, "at"), utc(now, "now")
    if at > now:
        raise AssertionRefused(f"{member}: an assertion cannot be recorded in the future ({at.isoformat()})")
    if closure is not None:
        raise AssertionRefused(f"{member}: the proposal was {closure.status} at {closure.at.isoformat()}; "
                               "nothing was recorded")
    current = evaluate(dist, roster, assertions, now, closure)
    settled_at = current.adopted_at or current.lapsed_at
    if settled_at is not None and at < settled_at:
        raise AssertionRefused(f"{member}: the proposal was {current.status} at {settled_at.isoformat()}; an assertion "
                               "dated before that cannot be added now (tell the co-chairs)")
    check_assertion(dist, roster, member, position, at, opinion, closure)
    ignored = (current if at == now else evaluate(dist, roster, assertions, at, closure)).final
    return Admission(ignored=ignored, escalate=position == "negative", within_period=within_period(dist.deadline, at))


@dataclass
class _State:
    """Mutable replay state; lives only inside `evaluate`."""

    active: set[str]
    positions: dict[str, Position] = field(default_factory=dict)
    seats: dict[Government, Position | None] = field(default_factory=lambda: {s: None for s in GOVERNMENTS})
    counting: dict[str, None] = field(default_factory=dict)   # ordered set
    negatives: dict[str, None] = field(default_factory=dict)  # ordered set
    escalations: list[Assertion] = field(default_factory=list)
    deadline_passed: bool = False
    seats_ok_at_deadline: bool = False

    def unanimous(self) -> bool:
        # PROCEDURE 5 (ii): every electorate member still active has an affirmative position.
        return all(self.positions.get(m) == "affirmative" for m in self.active)

    def no_objection(self, must_affirm_within_period: bool) -> bool:
        # PROCEDURE 5 (i): no counting negative, deadline passed, both seats affirmative.
        seats_ok = all(p == "affirmative" for p in self.seats.values())
        if must_affirm_within_period and not self.seats_ok_at_deadline:
            return False
        return self.deadline_passed and not self.counting and seats_ok


# Order of facts at one instant: the deadline first (so a state reached before it is
# judged "at the deadline"), then departures and assertions in the order they happened
# (roster change numbers; an assertion without one comes after the departures), then a
# co-chairs' closure. Every instant is taken in UTC so a repeated local hour sorts right.
_INF = float("inf")


def _facts(dist: Distribution, roster: Roster, assertions, now: datetime, closure: Closure | None) -> list[tuple]:
    facts: list[tuple] = [((utc(dist.deadline), 0, 0, 0, 0), "deadline", None)]
    facts += [((utc(t), 1, seq, 0, i), "leave", m)
              for i, (t, seq, m) in enumerate(roster.departures(dist.electorate, dist.distributed_at))]
    facts += [((utc(a.at), 1, _INF if a.seq is None else a.seq, 1, i), "assert", a) for i, a in enumerate(assertions)]
    if closure is not None:
        facts.append(((utc(closure.at), 2, 0, 0, 0), "close", closure))
    return sorted((f for f in facts if f[0][0] <= now), key=lambda f: f[0])


def evaluate(
    dist: Distribution, roster: Roster, assertions: list[Assertion] | tuple[Assertion, ...],
    now: datetime, closure: Closure | None = None,
) -> Verdict:
    """The verdict on `dist` at `now`, from the facts recorded up to `now`."""
    now = utc(now, "now")
    ed = roster.rules.electronic_decision
    tz = roster.rules.tz
    facts = _facts(dist, roster, assertions, now, closure)

    st = _State(active=set(dist.electorate))
    deadline = utc(dist.deadline)
    trace = [Step(dist.distributed_at, "distributed", partial(_distributed_text, dist, tz))]
    adopted_at: datetime | None = None
    basis: Basis | None = None
    lapsed_at: datetime | None = None
    closed: Closure | None = None

    for key, kind, fact in facts:
        at = key[0]
        settled = adopted_at is not None and at > adopted_at or lapsed_at is not None or closed is not None
        if kind == "assert":
            a: Assertion = fact  # type: ignore[assignment]
            if a.position == "negative":
                st.escalations.append(a)
            if settled:
                trace.append(Step(at, "ignored", f"{a.member} asserts {a.position}: recorded, the outcome is already settled"))
                continue
            _apply_assertion(st, a, at < deadline, dist, roster, ed.withdrawn_negative_counts, trace, tz)
        elif settled:
            continue
        elif kind == "leave":
            st.active.discard(fact)  # type: ignore[arg-type]
            trace.append(Step(at, "departure", f"{fact} leaves the JC"))
        elif kind == "deadline":
            st.deadline_passed = True
            st.seats_ok_at_deadline = all(p == "affirmative" for p in st.seats.values())
            trace.append(Step(at, "deadline", _deadline_text(st.counting, st.seats)))
        elif kind == "close" and adopted_at is None:
            closed = fact  # type: ignore[assignment]
            trace.append(Step(at, "closed", f"the co-chairs' outcome: {closed.status}"))
            continue

        if adopted_at is None:
            unanimous, no_obj = st.unanimous(), st.no_objection(ed.cochairs_must_affirm_within_period)
            if unanimous or no_obj:
                adopted_at, basis = at, ("unanimous" if unanimous else "no_objection")
                trace.append(Step(at, "adopted", _adoption_text(basis)))
            elif kind == "deadline" and ed.cochairs_must_affirm_within_period and not st.counting:
                lapsed_at = at
                trace.append(Step(at, "lapsed", "no negative, but the co-chairs had not both affirmed within the period "
                                                "(cochairs_must_affirm_within_period)"))
        elif at == adopted_at and basis == "no_objection" and st.unanimous():
            # Both conditions became true at one instant: the basis is unanimous (PROCEDURE 5).
            basis = "unanimous"
            trace.append(Step(at, "adopted", "unanimity completed at the same instant: basis unanimous"))

    status: Status
    if adopted_at is not None:
        status = "adopted"
    elif closed is not None:
        status = closed.status
    elif lapsed_at is not None:
        status = "lapsed"
    elif st.counting:
        status = "objected"
    else:
        status = "open"
    asserted = {a.member for a in assertions if utc(a.at) <= now}
    awaiting = tuple(m for m in dist.electorate if roster.is_active(m, now) and m not in asserted)
    final = status in ("adopted", "lapsed", "withdrawn", "superseded", "referred")
    return Verdict(
        status=status, basis=basis, adopted_at=adopted_at, deadline=dist.deadline,
        negatives=tuple(st.negatives), counting_negatives=tuple(st.counting), awaiting=awaiting,
        escalations=tuple(st.escalations), positions=dict(st.positions), seat_positions=dict(st.seats),
        lapsed_at=lapsed_at, closed=closed,
        next_change=None if final or now >= dist.deadline else dist.deadline,
        trace=tuple(trace),
    )


def _apply_assertion(st: _State, a: Assertion, within: bool, dist: Distribution, roster: Roster,
                     withdrawn_counts: bool, trace: list[Step], tz) -> None:
    # `within`: made before the deadline (PROCEDURE 5 (i)), as `within_period` says, from
    # the instants already in UTC.
    st.positions[a.member] = a.position
    seats = a.seats if a.seats is not None else roster.seats_spoken_for(a.member, a.at)
    for seat in seats:
        st.seats[seat] = a.position
    counts = withdraws = False
    if a.position == "negative" and within:
        st.negatives.setdefault(a.member)
        st.counting.setdefault(a.member)
        counts = True
    elif a.position == "affirmative" and not withdrawn_counts and a.member in st.counting:
        del st.counting[a.member]
        withdraws = True
    trace.append(Step(a.at, "assertion", partial(_assertion_text, a, seats, within, counts, withdraws,
                                                 dist.distributed_at, tz)))


def _distributed_text(dist: Distribution, tz) -> str:
    return (f"distributed to {len(dist.electorate)} members ({', '.join(dist.electorate)}); "
            f"deadline {describe_at(dist.deadline, tz)}")


def _assertion_text(a: Assertion, seats: tuple[Government, ...], within: bool, counts: bool, withdraws: bool,
                    distributed_at: datetime, tz) -> str:
    notes = [f"day {period_day(a.at, distributed_at, tz)}", "within the period" if within else "after the period"]
    if seats:
        notes.append(f"for the {' and '.join(seats)} seat{'s' if len(seats) > 1 else ''}")
    if counts:
        notes.append("counts against no-objection")
    elif withdraws:
        notes.append("withdraws their negative (withdrawn_negative_counts: false)")
    return f"{a.member} asserts {a.position} ({'; '.join(notes)})"


def _deadline_text(counting: dict[str, None], seats: dict[Government, Position | None]) -> str:
    # Written now, not lazily: the state it reads goes on changing after the deadline.
    shown = ", ".join(f"{s} {p or 'no position'}" for s, p in seats.items())
    negs = f"negatives counting: {', '.join(counting)}" if counting else "no negative within the period"
    return f"deadline passed; {negs}; seats: {shown}"


def _adoption_text(basis: Basis) -> str:
    if basis == "unanimous":
        return "adopted: every electorate member still active is affirmative (unanimity)"
    return "adopted: no objection within the period and both co-chair seats affirmative"
