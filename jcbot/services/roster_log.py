"""A committee's stored roster log replayed through the core, cached per committee by its last change.

Every verdict needs the roster, and replaying the log costs one query plus one core
step per change. A replay is kept (in the `RosterCache` of the service context, which
each unit of work carries in `Session.info`) under the committee, its last change's id,
the number of changes and a hash of its rules text; a call then reads only that mark.
Both `roster.py` (which changes the log) and `evaluation.py` (which judges with it)
build on this module, so neither has to import the other to replay a roster.
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime
from functools import lru_cache

from sqlalchemy import bindparam, func
from sqlmodel import Session, select

from jcbot.core.roster import Roster
from jcbot.core.rules import Rules, rules_from_text
from jcbot.store.models import Committee, RosterChange

# Where a unit of work carries the context's cache: (RosterCache, list of pending puts
# or None). Set by ServiceContext.tx/read; a bare Session (a test, a migration) has none.
SESSION_KEY = "jcbot.rosters"

Mark = tuple[int | None, int]  # (last RosterChange.id, number of changes) of one committee
RosterKey = tuple[int, int | None, int, str]


@lru_cache(maxsize=256)
def _parse_rules(text: str, source: str) -> Rules:
    return rules_from_text(text, source)


@lru_cache(maxsize=256)
def _rules_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def committee_rules(committee: Committee) -> Rules:
    """The rules the committee was created with (its stored text, validated)."""
    return _parse_rules(committee.rules_yaml, committee.rules_source)


class RosterCache:
    """Replayed rosters by (committee id, last change id, change count, rules hash): a small thread-safe LRU."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[RosterKey, Roster] = OrderedDict()
        self._lock = threading.Lock()
        self.replays = 0  # how many times a log was replayed (tests and benchmarks read it)

    def get(self, key: RosterKey) -> Roster | None:
        with self._lock:
            roster = self._items.get(key)
            if roster is not None:
                self._items.move_to_end(key)
            return roster

    def put(self, key: RosterKey, roster: Roster) -> None:
        with self._lock:
            self._items[key] = roster
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def put_all(self, items: list[tuple[RosterKey, Roster]]) -> None:
        for key, roster in items:
            self.put(key, roster)


def roster_marks(session: Session, committee_ids: list[int] | None = None) -> dict[int, Mark]:
    """The mark (last change id, change count) of each committee that has roster changes, in one query."""
    q = select(RosterChange.committee_id, func.max(RosterChange.id), func.count(RosterChange.id))
    if committee_ids is not None:
        q = q.where(RosterChange.committee_id.in_(committee_ids))  # type: ignore[attr-defined]
    return {cid: (last, count) for cid, last, count in session.exec(q.group_by(RosterChange.committee_id))}


_RC = RosterChange.__table__  # type: ignore[attr-defined]
# Built once: every verdict reads its committee's mark.
_MARK = select(func.max(_RC.c.id), func.count(_RC.c.id)).where(_RC.c.committee_id == bindparam("committee_id"))


def load_roster(session: Session, committee: Committee, mark: Mark | None = None) -> Roster:
    """The committee's roster: its stored changes replayed through the core (once per change, cached).

    `mark` is the committee's entry of `roster_marks` when the caller read it already.
    """
    carried = session.info.get(SESSION_KEY)
    if carried is None:
        return _replay(session, committee)[0]
    cache, pending = carried
    if mark is None:
        last, count = session.connection().execute(_MARK, {"committee_id": committee.id}).one()
        mark = (last, count)
    digest = _rules_digest(committee.rules_yaml)
    roster = cache.get((committee.id, *mark, digest))
    if roster is not None:
        return roster
    roster, replayed = _replay(session, committee)
    cache.replays += 1
    # Keyed by the rows actually replayed, not by the mark read before: a change committed
    # in between cannot be cached under a mark that does not include it.
    key = (committee.id, *replayed, digest)
    if pending is None:
        cache.put(key, roster)
    else:
        # A writing unit of work may have replayed its own uncommitted change: shared
        # only once it commits (SQLite reuses the id of a rolled-back row).
        pending.append((key, roster))
    return roster


def _replay(session: Session, committee: Committee) -> tuple[Roster, Mark]:
    roster = Roster(committee_rules(committee))
    last, count = None, 0
    for c in session.exec(select(RosterChange).where(RosterChange.committee_id == committee.id)
                          .order_by(RosterChange.id)):  # type: ignore[arg-type]
        roster = apply_change(roster, c.kind, c.member, c.government, c.other, c.at)
        last, count = c.id, count + 1
    return roster, (last, count)


def apply_change(roster: Roster, kind: str, member: str, government: str | None, other: str | None,
                 at: datetime) -> Roster:
    """One stored roster change applied through the core (which refuses what PROCEDURE forbids)."""
    if kind == "add_member":
        return roster.add_member(member, government, at)  # type: ignore[arg-type]
    if kind == "remove_member":
        return roster.remove_member(member, at)
    if kind == "elect_cochair":
        return roster.elect_cochair(government, member, at)  # type: ignore[arg-type]
    if kind == "designate_alternate":
        return roster.designate_alternate(member, other or "", at)
    if kind == "revoke_alternate":
        return roster.revoke_alternate(member, at)
    raise ValueError(f"unknown roster change {kind!r}")
