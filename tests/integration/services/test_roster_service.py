"""jcbot.services.roster: committees from rules files, members, co-chairs, alternates, removal."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.core.errors import RosterError, RulesError
from jcbot.services import proposals, roster, roster_log
from jcbot.services.assertions import record_assertion
from jcbot.services.context import ServiceError
from jcbot.store.db import session_scope
from jcbot.store.models import Committee, Decision, Member, RosterChange

from .helpers import (ITEMS, SECRETARIAT, audit_actions, committee, counts, distributed, rows, rules_text, tick,
                      variant)
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures


def _roster(ctx, slug="japan-mongolia"):
    with session_scope(ctx.engine) as s:
        return roster_log.load_roster(s, roster.get_committee(s, slug))


def _refused(ctx, exc_type, match, call, *args, **kwargs):
    """`call` is refused with `match` and writes nothing at all (rows, audit, outbox)."""
    before = counts(ctx.engine)
    with pytest.raises(exc_type, match=match):
        call(ctx, *args, **kwargs)
    assert counts(ctx.engine) == before


def test_committees_from_shipped_rules_live_side_by_side(ctx, engine):
    mn_text, mn_source = rules_text("japan-mongolia")
    jc_text, jc_source = rules_text("default")
    mn = roster.create_committee(ctx, "japan-mongolia", mn_text, mn_source, SECRETARIAT)
    jc = roster.create_committee(ctx, "paper-2013", jc_text, jc_source, SECRETARIAT)
    assert (mn.name, mn.code, mn.timezone, mn.host_country) == (
        "Japan-Mongolia Joint Committee", "MN", "Asia/Ulaanbaatar", "Mongolia")
    assert (jc.code, jc.timezone) == ("JC", "UTC")
    stored = {c.slug: c for c in rows(engine, Committee)}
    assert stored["japan-mongolia"].rules_yaml == mn_text  # kept verbatim
    assert roster_log.committee_rules(stored["paper-2013"]).electronic_decision.objection_period_days == 20
    # Each committee numbers its own proposals.
    for slug in ("japan-mongolia", "paper-2013"):
        roster.add_member(ctx, slug, "tanaka", "japan", SECRETARIAT)
    mn_ref = proposals.draft(ctx, "japan-mongolia", "One", "Text.", ITEMS, SECRETARIAT).ref
    jc_ref = proposals.draft(ctx, "paper-2013", "Two", "Text.", ITEMS, SECRETARIAT).ref
    assert (mn_ref, jc_ref) == ("MN-P-2026-001", "JC-P-2026-001")
    assert audit_actions(engine).count("committee.created") == 2
    assert len(rows(engine, Member)) == 2  # one per committee, same handle


@pytest.mark.parametrize("slug, body, exc, match", [
    ("Japan Mongolia", None, ServiceError, "lower-case letters"),
    ("jm", "timezone: Asia/Tokyo\nmembership: {max_members_per_government: 10}\n", RulesError,
     "electronic_decision: required key is missing"),
    ("jm", variant("japan-mongolia", **{"  max_members_per_government: 10": "  max_members_per_government: 10\n  observers: 3"}),
     RulesError, r"membership.observers: unknown key \(expected one of: max_members_per_government\)"),
    ("jm", "timezone: Mars/Olympus\n", RulesError, "timezone: expected an IANA time zone"),
])
def test_a_bad_committee_is_refused_and_nothing_written(ctx, slug, body, exc, match):
    text_, source = rules_text("japan-mongolia")
    _refused(ctx, exc, match, roster.create_committee, slug, body or text_, source, SECRETARIAT)


def test_a_committee_id_is_used_once(ctx):
    committee(ctx)
    text_, source = rules_text("default")
    _refused(ctx, ServiceError, "committee 'japan-mongolia' already exists",
             roster.create_committee, "japan-mongolia", text_, source, SECRETARIAT)


def test_two_committees_cannot_share_a_code(ctx, engine):
    # The code prefixes every public number (JC-2026-001, JC-P-2026-001): two committees
    # with the same code would hand out the same numbers.
    text_, source = rules_text("default")
    roster.create_committee(ctx, "paper-2013", text_, source, SECRETARIAT)
    _refused(ctx, ServiceError, r"code 'JC' is already used by committee paper-2013.*committee\.code",
             roster.create_committee, "another", text_, source, SECRETARIAT)


def test_unknown_committee_names_the_known_ones(ctx):
    committee(ctx)
    _refused(ctx, ServiceError, r"no committee 'japan-mongoli' \(known: japan-mongolia\)",
             roster.add_member, "japan-mongoli", "x", "japan", SECRETARIAT)


def test_the_cap_is_enforced_with_the_cores_message(ctx, engine):
    committee(ctx, japan=(), host=(), cochairs=(), alternates=())
    for i in range(10):
        roster.add_member(ctx, "japan-mongolia", f"j{i}", "japan", SECRETARIAT)
    _refused(ctx, RosterError, r"^cannot designate j10: japan already has 10 active members, the cap is 10 "
             r"\(membership.max_members_per_government\)$", roster.add_member, "japan-mongolia", "j10", "japan", SECRETARIAT)
    roster.add_member(ctx, "japan-mongolia", "h0", "host", SECRETARIAT)  # the other government is not full
    tick(ctx.clock)
    roster.remove_member(ctx, "japan-mongolia", "j3", SECRETARIAT)
    roster.add_member(ctx, "japan-mongolia", "j10", "japan", SECRETARIAT)  # a seat freed
    assert len(_roster(ctx).active_members(ctx.clock.now(), "japan")) == 10


def test_a_smaller_cap_from_the_rules_file(ctx):
    committee(ctx, japan=("a", "b"), host=(), cochairs=(), alternates=(),
              text_=variant("japan-mongolia", **{"max_members_per_government: 10": "max_members_per_government: 2"}))
    _refused(ctx, RosterError, "japan already has 2 active members, the cap is 2",
             roster.add_member, "japan-mongolia", "c", "japan", SECRETARIAT)


@pytest.mark.parametrize("handle, government, kwargs, exc, match", [
    ("Tanaka San", "japan", {}, ServiceError, "member id 'Tanaka San'"),
    ("kato", "jp", {}, RosterError, "government must be 'japan' or 'host', got 'jp'"),
    ("kato", "japan", {"timezone": "Asia/Nowhere"}, ServiceError, "unknown time zone 'Asia/Nowhere'"),
    ("kato", "japan", {"email": "kato at example.jp"}, ServiceError, "is not an email address"),
    ("tanaka", "japan", {}, RosterError, "tanaka is already an active member"),
])
def test_bad_member_designations_are_refused(ctx, handle, government, kwargs, exc, match):
    committee(ctx)
    _refused(ctx, exc, match, roster.add_member, "japan-mongolia", handle, government, SECRETARIAT, **kwargs)


def test_member_rows_keep_contacts_and_the_roster_log(ctx, engine):
    committee(ctx)
    m = rows(engine, Member, Member.handle == "tanaka")[0]
    assert (m.email, m.slack_user_id, m.timezone, m.government) == (
        "tanaka@japan-mongolia.example", "UTANAKA", "Asia/Tokyo", "japan")
    kinds = [c.kind for c in rows(engine, RosterChange)]
    assert kinds == ["add_member"] * 6 + ["elect_cochair"] * 2 + ["designate_alternate"] * 2
    roster.update_member(ctx, "japan-mongolia", "tanaka", SECRETARIAT, email="t.tanaka@env.go.jp", timezone="UTC")
    m = rows(engine, Member, Member.handle == "tanaka")[0]
    assert (m.email, m.timezone) == ("t.tanaka@env.go.jp", "UTC")
    assert audit_actions(engine)[-1] == "member.updated"


@pytest.mark.parametrize("contact, match", [
    ({"email": "not an address"}, "is not an email address"),
    ({"timezone": "Asia/Nowhere"}, "unknown time zone"),
])
def test_updating_contacts_is_checked_like_adding(ctx, contact, match):
    committee(ctx)
    _refused(ctx, ServiceError, match, roster.update_member, "japan-mongolia", "sato", SECRETARIAT, **contact)


def test_cochair_elections(ctx, engine):
    committee(ctx, cochairs=(), alternates=())
    _refused(ctx, RosterError, "cannot elect bat co-chair for japan: a member of the host government, "
             "the seat needs a member of the japan government", roster.elect_cochair, "japan-mongolia", "japan", "bat", SECRETARIAT)
    _refused(ctx, RosterError, "cannot elect nobody co-chair for host: not an active member",
             roster.elect_cochair, "japan-mongolia", "host", "nobody", SECRETARIAT)
    _refused(ctx, RosterError, "seat must be 'japan' or 'host'",
             roster.elect_cochair, "japan-mongolia", "mongolia", "bat", SECRETARIAT)
    roster.elect_cochair(ctx, "japan-mongolia", "japan", "tanaka", SECRETARIAT)
    roster.elect_cochair(ctx, "japan-mongolia", "host", "bat", SECRETARIAT)
    now = ctx.clock.now()
    r = _roster(ctx)
    assert (r.holder("japan", now), r.holder("host", now)) == ("tanaka", "bat")
    # The term is the rules' one year: the seat falls vacant when it ends.
    assert r.holder("japan", now + timedelta(days=366)) is None
    tick(ctx.clock)
    roster.elect_cochair(ctx, "japan-mongolia", "japan", "sato", SECRETARIAT)  # a new election replaces the holder
    assert _roster(ctx).holder("japan", ctx.clock.now()) == "sato"
    assert audit_actions(engine).count("roster.elect_cochair") == 3


def test_alternates_set_and_revoke(ctx, engine):
    committee(ctx, alternates=())
    for args, match in [
        (("tanaka", "tanaka"), "tanaka cannot designate themselves"),
        (("tanaka", "bat"), "tanaka cannot designate bat: bat is the other co-chair"),
        (("sato", "suzuki"), "sato does not hold a co-chair seat"),
        (("tanaka", "ghost"), "tanaka cannot designate ghost: not an active member"),
    ]:
        _refused(ctx, RosterError, match, roster.set_alternate, "japan-mongolia", *args, SECRETARIAT)
    _refused(ctx, RosterError, "tanaka has no alternate to revoke", roster.revoke_alternate, "japan-mongolia", "tanaka", SECRETARIAT)
    roster.set_alternate(ctx, "japan-mongolia", "tanaka", "sato", SECRETARIAT)
    roster.set_alternate(ctx, "japan-mongolia", "bat", "tsetseg", SECRETARIAT)
    now = ctx.clock.now()
    r = _roster(ctx)
    assert (r.alternate("japan", now), r.alternate("host", now)) == ("sato", "tsetseg")
    assert r.seats_spoken_for("sato", now) == ("japan",)
    tick(ctx.clock)
    roster.revoke_alternate(ctx, "japan-mongolia", "tanaka", SECRETARIAT)
    tick(ctx.clock)
    r = _roster(ctx)
    assert r.alternate("japan", ctx.clock.now()) is None
    assert r.alternate("japan", now) == "sato"  # the past does not move
    tick(ctx.clock)
    roster.set_alternate(ctx, "japan-mongolia", "bat", "dorj", SECRETARIAT)  # replaces tsetseg
    assert _roster(ctx).alternate("host", ctx.clock.now()) == "dorj"


def test_removal_ends_seats_and_designations(ctx, engine):
    committee(ctx)
    tick(ctx.clock)
    roster.remove_member(ctx, "japan-mongolia", "sato", SECRETARIAT)  # tanaka's alternate
    roster.remove_member(ctx, "japan-mongolia", "bat", SECRETARIAT)   # the host co-chair
    now = ctx.clock.now()
    r = _roster(ctx)
    assert r.alternate("japan", now) is None
    assert r.vacant_seats(now) == ("host",)
    assert r.alternate("host", now) is None  # bat's alternate designation ended with the term
    sato = rows(engine, Member, Member.handle == "sato")[0]
    assert sato.left_at == now
    _refused(ctx, RosterError, "sato is not an active member", roster.remove_member, "japan-mongolia", "sato", SECRETARIAT)
    _refused(ctx, ServiceError, "no member 'ghost'", roster.remove_member, "japan-mongolia", "ghost", SECRETARIAT)
    # Designated again later: active again, same row.
    tick(ctx.clock)
    roster.add_member(ctx, "japan-mongolia", "sato", "japan", SECRETARIAT)
    sato = rows(engine, Member, Member.handle == "sato")
    assert len(sato) == 1 and sato[0].left_at is None and sato[0].email == "sato@japan-mongolia.example"


def test_an_update_must_change_something_known(ctx):
    committee(ctx)
    _refused(ctx, ServiceError, "sato: nothing to update", roster.update_member, "japan-mongolia", "sato", SECRETARIAT,
             email=None, timezone=None)
    _refused(ctx, ServiceError, "sato: cannot update government", roster.update_member, "japan-mongolia", "sato",
             SECRETARIAT, government="host")


def test_a_departure_that_completes_unanimity_adopts_at_once(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    for m in ("tanaka", "sato", "bat", "dorj", "tsetseg"):
        tick(ctx.clock)
        record_assertion(ctx, ref, m, "affirmative", channel="email", evidence_key=m, actor="email")
    tick(ctx.clock, 60)
    roster.remove_member(ctx, "japan-mongolia", "suzuki", SECRETARIAT)  # the only one awaited
    (d,) = rows(engine, Decision)
    assert (d.basis, d.adopted_at) == ("unanimous", ctx.clock.now())


def test_a_display_name_in_the_address_names_the_member_and_localhost_addresses_are_accepted(ctx, engine):
    committee(ctx)
    roster.add_member(ctx, "japan-mongolia", "kato", "japan", SECRETARIAT, email='"Kato Akiko" <kato@env.go.jp>')
    roster.add_member(ctx, "japan-mongolia", "enkh", "host", SECRETARIAT, email="enkh@localhost")
    kato, enkh = (rows(engine, Member, Member.handle == h)[0] for h in ("kato", "enkh"))
    assert (kato.name, kato.email) == ("Kato Akiko", "kato@env.go.jp")
    assert (enkh.name, enkh.email) == ("enkh", "enkh@localhost")  # no name anywhere: the handle, and the CLI says so
    roster.update_member(ctx, "japan-mongolia", "enkh", SECRETARIAT, email="Enkhjargal B. <enkh@localhost>")
    enkh = rows(engine, Member, Member.handle == "enkh")[0]
    assert (enkh.name, enkh.email) == ("Enkhjargal B.", "enkh@localhost")
    # An explicit name wins over the address's display name.
    roster.update_member(ctx, "japan-mongolia", "kato", SECRETARIAT, name="KATO Akiko", email="Kato <kato@env.go.jp>")
    assert rows(engine, Member, Member.handle == "kato")[0].name == "KATO Akiko"


@pytest.mark.parametrize("address", ["<>", "a@b@c", "Kato <kato at env>", "@localhost"])
def test_still_not_addresses(ctx, address):
    committee(ctx)
    _refused(ctx, ServiceError, "is not an email address", roster.add_member, "japan-mongolia", "kato", "japan",
             SECRETARIAT, email=address)
