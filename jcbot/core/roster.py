"""The roster of a Joint Committee over time: members, co-chair seats, alternates.

A `Roster` is an immutable history. Each change returns a new roster and is refused
(RosterError, nothing changed) if it would break an invariant of PROCEDURE.md at any
instant; queries take the instant they ask about. Changes must come in time order, so
the past a query sees never moves.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Literal

from jcbot.core.calendar import add_term, utc
from jcbot.core.errors import RosterError
from jcbot.core.rules import Rules

Government = Literal["japan", "host"]
GOVERNMENTS: tuple[Government, Government] = ("japan", "host")


def other(seat: Government) -> Government:
    """The other government's seat."""
    return "host" if seat == "japan" else "japan"


@dataclass(frozen=True)
class Span:
    """A half-open interval [start, end); end None = still running."""

    start: datetime
    end: datetime | None = None

    def contains(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)

    def closed_at(self, at: datetime) -> Span:
        return replace(self, end=at if self.end is None or at < self.end else self.end)


@dataclass(frozen=True)
class Membership:
    member: str
    government: Government
    span: Span
    end_seq: int | None = None  # the roster change that ended it


@dataclass(frozen=True)
class Term:
    """A co-chair's term in a seat; span.end is when it ended or is due to end."""

    seat: Government
    member: str
    span: Span


@dataclass(frozen=True)
class Designation:
    """An alternate named by the holder of `seat` during one term."""

    seat: Government
    cochair: str
    alternate: str
    span: Span


@dataclass(frozen=True)
class Roster:
    """The committee's membership history under one set of rules."""

    rules: Rules
    memberships: tuple[Membership, ...] = ()
    terms: tuple[Term, ...] = ()
    designations: tuple[Designation, ...] = ()
    last_change: datetime | None = field(default=None)
    changes: int = 0  # how many changes were applied: orders changes and assertions at one instant

    # ---- queries -------------------------------------------------------------
    def membership(self, member: str, at: datetime) -> Membership | None:
        """The member's membership running at `at`, if any."""
        return next((m for m in self.memberships if m.member == member and m.span.contains(at)), None)

    def is_active(self, member: str, at: datetime) -> bool:
        return self.membership(member, at) is not None

    def knows(self, member: str) -> bool:
        """Whether the member was ever designated to this JC."""
        return any(m.member == member for m in self.memberships)

    def active_members(self, at: datetime, government: Government | None = None) -> tuple[str, ...]:
        """Members active at `at` (of one government if given), in designation order."""
        return tuple(
            m.member for m in self.memberships
            if m.span.contains(at) and (government is None or m.government == government)
        )

    def government_of(self, member: str) -> Government | None:
        """The government a member was (last) designated by."""
        found = [m.government for m in self.memberships if m.member == member]
        return found[-1] if found else None

    def term(self, seat: Government, at: datetime) -> Term | None:
        return next((t for t in self.terms if t.seat == seat and t.span.contains(at)), None)

    def holder(self, seat: Government, at: datetime) -> str | None:
        """Who holds the seat at `at` (None: vacant)."""
        term = self.term(seat, at)
        return term.member if term else None

    def alternate(self, seat: Government, at: datetime) -> str | None:
        """The seat's active alternate at `at`."""
        d = next((d for d in self.designations if d.seat == seat and d.span.contains(at)), None)
        return d.alternate if d else None

    def seats_spoken_for(self, member: str, at: datetime) -> tuple[Government, ...]:
        """The seats an assertion by `member` at `at` also asserts (holder or alternate)."""
        if member not in self._seat_people:  # most members: never a co-chair nor an alternate
            return ()
        return tuple(s for s in GOVERNMENTS if member in (self.holder(s, at), self.alternate(s, at)))

    @cached_property
    def _seat_people(self) -> frozenset[str]:
        """Everyone who ever held a co-chair's seat or was named an alternate (a roster never changes)."""
        return frozenset(t.member for t in self.terms) | frozenset(d.alternate for d in self.designations)

    def vacant_seats(self, at: datetime) -> tuple[Government, ...]:
        return tuple(s for s in GOVERNMENTS if self.holder(s, at) is None)

    def departures(self, members: frozenset[str] | tuple[str, ...], after: datetime) -> tuple[tuple[datetime, int, str], ...]:
        """When each of `members` stopped being active after `after` (instant, change number, member), in order."""
        out = [
            (m.span.end, m.end_seq or 0, m.member) for m in self.memberships
            if m.member in members and m.span.end is not None and m.span.end >= after
            and not self.is_active(m.member, m.span.end)  # a re-designation the same instant is no departure
        ]
        return tuple(sorted(out, key=lambda p: (p[0], p[1])))

    # ---- changes -------------------------------------------------------------
    def _at(self, at: datetime) -> datetime:
        at = utc(at)
        if self.last_change is not None and at < self.last_change:
            raise RosterError(
                f"changes must be recorded in time order: {at.isoformat()} is before "
                f"the last change at {self.last_change.isoformat()}"
            )
        return at

    def add_member(self, member: str, government: Government, at: datetime) -> Roster:
        """Designate a member of `government`; refused past the cap."""
        at = self._at(at)
        if government not in GOVERNMENTS:
            raise RosterError(f"{member}: government must be 'japan' or 'host', got {government!r}")
        if self.is_active(member, at):
            raise RosterError(f"{member} is already an active member of the JC")
        cap = self.rules.membership.max_members_per_government
        count = len(self.active_members(at, government))
        if count >= cap:
            raise RosterError(
                f"cannot designate {member}: {government} already has {count} active members, "
                f"the cap is {cap} (membership.max_members_per_government)"
            )
        return replace(
            self, memberships=self.memberships + (Membership(member, government, Span(at)),), last_change=at,
            changes=self.changes + 1,
        )

    def remove_member(self, member: str, at: datetime) -> Roster:
        """A member leaves the JC: their seat falls vacant, designations naming them end."""
        at = self._at(at)
        if not self.is_active(member, at):
            raise RosterError(f"{member} is not an active member of the JC")
        memberships = tuple(
            replace(m, span=m.span.closed_at(at), end_seq=self.changes + 1) if m.member == member and m.span.contains(at) else m
            for m in self.memberships
        )
        r = replace(self, memberships=memberships, last_change=at, changes=self.changes + 1)
        for seat in GOVERNMENTS:
            if r.holder(seat, at) == member:
                r = r._end_term(seat, at)
        return r._end_designations(at, lambda d: d.alternate == member)

    def elect_cochair(self, seat: Government, member: str, at: datetime) -> Roster:
        """Record an election: a new term of `cochairs.term` starts now for `seat`."""
        at = self._at(at)
        if seat not in GOVERNMENTS:
            raise RosterError(f"seat must be 'japan' or 'host', got {seat!r}")
        m = self.membership(member, at)
        if m is None:
            raise RosterError(f"cannot elect {member} co-chair for {seat}: not an active member of the JC")
        if m.government != seat:
            raise RosterError(
                f"cannot elect {member} co-chair for {seat}: a member of the {m.government} government, "
                f"the seat needs a member of the {seat} government"
            )
        r = self._end_term(seat, at) if self.term(seat, at) else self
        # The new co-chair cannot stay the other co-chair's alternate.
        r = r._end_designations(at, lambda d: d.alternate == member)
        end = add_term(at, self.rules.cochairs.term_length, self.rules.tz)
        return replace(r, terms=r.terms + (Term(seat, member, Span(at, end)),), last_change=at, changes=self.changes + 1)

    def designate_alternate(self, cochair: str, alternate: str, at: datetime) -> Roster:
        """A co-chair names one alternate (replacing any earlier one)."""
        at = self._at(at)
        seats = [s for s in GOVERNMENTS if self.holder(s, at) == cochair]
        if not seats:
            raise RosterError(f"{cochair} does not hold a co-chair seat and cannot designate an alternate")
        seat = seats[0]
        if alternate == cochair:
            raise RosterError(f"{cochair} cannot designate themselves as their alternate")
        if alternate == self.holder(other(seat), at):
            raise RosterError(f"{cochair} cannot designate {alternate}: {alternate} is the other co-chair")
        if not self.is_active(alternate, at):
            raise RosterError(f"{cochair} cannot designate {alternate}: not an active member of the JC")
        term = self.term(seat, at)
        assert term is not None
        r = self._end_designations(at, lambda d: d.seat == seat)
        d = Designation(seat, cochair, alternate, Span(at, term.span.end))
        return replace(r, designations=r.designations + (d,), last_change=at, changes=self.changes + 1)

    def revoke_alternate(self, cochair: str, at: datetime) -> Roster:
        """A co-chair revokes their alternate."""
        at = self._at(at)
        seats = [s for s in GOVERNMENTS if self.holder(s, at) == cochair]
        if not seats or self.alternate(seats[0], at) is None:
            raise RosterError(f"{cochair} has no alternate to revoke")
        return replace(self._end_designations(at, lambda d: d.seat == seats[0]), changes=self.changes + 1)

    def _end_term(self, seat: Government, at: datetime) -> Roster:
        terms = tuple(
            replace(t, span=t.span.closed_at(at)) if t.seat == seat and t.span.contains(at) else t
            for t in self.terms
        )
        r = replace(self, terms=terms, last_change=at)
        return r._end_designations(at, lambda d: d.seat == seat)

    def _end_designations(self, at: datetime, which) -> Roster:
        designations = tuple(
            replace(d, span=d.span.closed_at(at)) if d.span.contains(at) and which(d) else d
            for d in self.designations
        )
        return replace(self, designations=designations, last_change=at)
