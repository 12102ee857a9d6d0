"""jcbot.services.roster_log: a committee's roster is replayed once per change, then read from the context's cache."""
from __future__ import annotations

import pytest

from jcbot.core.roster import Roster
from jcbot.services import queries, roster
from jcbot.services.roster_log import RosterCache, load_roster
from jcbot.store.db import session_scope
from jcbot.store.models import RosterChange

from .helpers import SECRETARIAT, committee, distributed, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures


def test_a_roster_is_replayed_once_per_change(ctx):
    committee(ctx)
    ref = distributed(ctx)
    before = ctx.rosters.replays
    for _ in range(3):
        queries.show(ctx, ref)
        queries.pending(ctx)
    assert ctx.rosters.replays - before <= 1  # at most once: the writes above may already have cached it
    tick(ctx.clock)
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT)
    seen = ctx.rosters.replays
    with ctx.read() as tx:
        c = roster.get_committee(tx.session, "japan-mongolia")
        assert "kato" in load_roster(tx.session, c).active_members(tx.now)
        assert load_roster(tx.session, c) is load_roster(tx.session, c)
    assert ctx.rosters.replays - seen <= 1


def test_a_rolled_back_change_is_never_served_from_the_cache(ctx):
    committee(ctx)
    tick(ctx.clock)
    with pytest.raises(RuntimeError):
        with ctx.tx("test") as tx:
            c = roster.get_committee(tx.session, "japan-mongolia")
            tx.session.add(RosterChange(committee_id=c.id, at=tx.now, kind="add_member", member="ghost",
                                        government="japan"))
            assert "ghost" in load_roster(tx.session, c).active_members(tx.now)
            raise RuntimeError("rolled back")
    # On SQLite the next change may take the rolled-back row's id: the cache must not answer with the ghost.
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT)
    with ctx.read() as tx:
        members = load_roster(tx.session, roster.get_committee(tx.session, "japan-mongolia")).active_members(tx.now)
    assert "kato" in members and "ghost" not in members


def test_a_bare_session_replays_without_a_cache(ctx):
    committee(ctx)
    with session_scope(ctx.engine) as s:
        c = roster.get_committee(s, "japan-mongolia")
        assert load_roster(s, c) == load_roster(s, c)


def test_the_cache_keeps_the_most_recently_used():
    cache = RosterCache(size=2)
    a, b, c = (Roster(None, changes=n) for n in (1, 2, 3))  # type: ignore[arg-type]
    cache.put((1, 1, 1, "h"), a)
    cache.put((2, 1, 1, "h"), b)
    assert cache.get((1, 1, 1, "h")) is a  # used: kept
    cache.put((3, 1, 1, "h"), c)
    assert cache.get((2, 1, 1, "h")) is None and cache.get((1, 1, 1, "h")) is a and cache.get((3, 1, 1, "h")) is c
