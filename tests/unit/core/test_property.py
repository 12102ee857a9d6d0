"""The adoption rules stated once more, independently, and checked against the core.

The oracle below is written from PROCEDURE.md 2, 3, 4 and 5 (with the lead's reading of
ties at one instant: the deadline first, then departures, then assertions in file order;
if both conditions hold at the adoption instant the basis is unanimous). It does not call
the core's evaluate or its calendar: the deadline is found from the zone's transitions
and local midnights, the verdict by brute force over prefixes of the time-ordered facts.
The core is run through `jcbot.core.timeline.replay`, as `jcbot simulate` runs it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jcbot.core.calendar import period_deadline
from jcbot.core.decision import Assertion, distribute, evaluate
from jcbot.core.roster import Roster
from jcbot.core.rules import Rules, rules_from_data
from jcbot.core.timeline import replay

UTC = timezone.utc
SECOND = timedelta(seconds=1)
ZONES = ["UTC", "Asia/Tokyo", "Asia/Ulaanbaatar", "America/New_York", "Europe/Berlin",
         "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham"]
SCAN_FROM, SCAN_TO = datetime(2014, 1, 1, tzinfo=UTC), datetime(2031, 6, 1, tzinfo=UTC)
FIRST_DAY, LAST_DAY = date(2015, 1, 1), date(2029, 12, 31)
SEATS = ("japan", "host")
NEVER = datetime.max.replace(tzinfo=UTC)


# ---- the calendar, independently ---------------------------------------------------
def local_date(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def _offset(ts: int, tz: ZoneInfo) -> timedelta:
    return datetime.fromtimestamp(ts, UTC).astimezone(tz).utcoffset()


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """Every instant at which the zone's UTC offset changes, 2014-2031 (to the second)."""
    tz = ZoneInfo(zone)
    out = []
    step = 86400  # no zone changes its offset twice within a day
    t = int(SCAN_FROM.timestamp())
    while t < SCAN_TO.timestamp():
        if _offset(t, tz) != _offset(t + step, tz):
            lo, hi = t, t + step  # offset(lo) is the old one, offset(hi) the new one
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if _offset(mid, tz) == _offset(lo, tz) else (lo, mid)
            out.append(datetime.fromtimestamp(hi, UTC))
        t += step
    return tuple(out)


def first_instant_of(day: date, zone: str) -> datetime:
    """The first instant whose local date is `day`: a local midnight, or a transition
    that skips midnight. Candidates are tested, none is computed by search."""
    tz = ZoneInfo(zone)
    candidates = []
    for fold in (0, 1):
        wall = datetime.combine(day, time(0)).replace(tzinfo=tz, fold=fold)
        at = wall.astimezone(UTC)
        if at.astimezone(tz).replace(tzinfo=None) == wall.replace(tzinfo=None):  # exists
            candidates.append(at)
    candidates += [t for t in transitions(zone) if abs(t.date() - day) <= timedelta(days=2)]
    starts = [c for c in candidates if local_date(c, tz) == day and local_date(c - SECOND, tz) < day]
    assert starts, f"no start found for {day} in {zone}"
    return min(starts)


def oracle_deadline(dist: datetime, zone: str, n: int, period_ends: str) -> datetime:
    """PROCEDURE.md 2."""
    if period_ends == "exact":
        return dist.astimezone(UTC) + n * timedelta(hours=24)
    return first_instant_of(local_date(dist, ZoneInfo(zone)) + timedelta(days=n + 1), zone)


# ---- a scenario --------------------------------------------------------------------
@dataclass
class Scenario:
    zone: str
    n: int
    period_ends: str
    withdrawn_negative_counts: bool
    must_affirm: bool
    members: list[tuple[str, str]]
    cochairs: dict[str, str]
    alternates: dict[str, str]                 # seat -> alternate
    dist: datetime
    deadline: datetime                         # the oracle's
    assertions: list[tuple[datetime, str, str]] = field(default_factory=list)   # (at, member, position)
    departures: dict[str, datetime] = field(default_factory=dict)              # member -> at
    revocations: dict[str, datetime] = field(default_factory=dict)             # seat -> at
    order: list[tuple[str, int]] = field(default_factory=list)                 # file order of events
    evaluate_at: datetime | None = None
    texts: dict[datetime, str] = field(default_factory=dict)                   # how each instant is written

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    def rules(self) -> Rules:
        return rules_from_data({
            "timezone": self.zone,
            "membership": {"max_members_per_government": 10},
            "electronic_decision": {
                "objection_period_days": self.n,
                "period_ends": self.period_ends,
                "withdrawn_negative_counts": self.withdrawn_negative_counts,
                "cochairs_must_affirm_within_period": self.must_affirm,
            },
        })


@st.composite
def distribution_instants(draw, zone: str, n: int) -> datetime:
    """Biased towards DST transitions (and the days that put a deadline on one) and local midnights."""
    tz = ZoneInfo(zone)
    near = [t for t in transitions(zone) if FIRST_DAY.year <= t.year <= LAST_DAY.year]
    how = draw(st.sampled_from(["transition", "midnight", "any"] if near else ["midnight", "any"]))
    if how == "transition":
        t = draw(st.sampled_from(near))
        days = draw(st.sampled_from([0, 0, -n, -(n + 1), -(n + 2)]))
        secs = draw(st.sampled_from([0, -1, 1, -3600, 3600]) | st.integers(-86400, 86400))
        return t + timedelta(days=days, seconds=secs)
    if how == "midnight":
        day = draw(st.dates(FIRST_DAY, LAST_DAY))
        midnight = datetime.combine(day, time(0)).replace(tzinfo=tz).astimezone(UTC)
        return midnight + timedelta(seconds=draw(st.sampled_from([0, -1, 1]) | st.integers(-7200, 7200)))
    day = draw(st.dates(FIRST_DAY, LAST_DAY))
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=draw(st.integers(0, 86399)))


def _instant(draw, sc: Scenario, previous: list[datetime]) -> datetime:
    """An instant at or after distribution, biased towards the deadline and earlier instants."""
    span = int((sc.deadline - sc.dist).total_seconds())
    kind = draw(st.sampled_from(["dist", "within", "within", "last", "deadline", "deadline", "next",
                                 "after", "after", "same"]))
    at = {
        "dist": sc.dist,
        "within": sc.dist + timedelta(seconds=draw(st.integers(0, span - 1))),
        "last": sc.deadline - SECOND,
        "deadline": sc.deadline,
        "next": sc.deadline + SECOND,
        "after": sc.deadline + timedelta(seconds=draw(st.integers(1, 15 * 86400))),
        "same": draw(st.sampled_from(previous)) if previous else sc.deadline,
    }[kind]
    return at


def _text(draw, at: datetime, tz: ZoneInfo) -> str:
    how = draw(st.sampled_from(["Z", "local", "fixed"]))
    if how == "Z":
        return at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if how == "local":
        return at.astimezone(tz).isoformat()
    minutes = draw(st.sampled_from([-570, -300, -180, 0, 330, 345, 540, 765]))
    return at.astimezone(timezone(timedelta(minutes=minutes))).isoformat()


@st.composite
def scenarios(draw) -> Scenario:
    zone = draw(st.sampled_from(ZONES))
    n = draw(st.integers(1, 25))
    period_ends = draw(st.sampled_from(["end_of_day", "exact"]))
    dist = draw(distribution_instants(zone, n))
    count = draw(st.integers(2, 6))
    govs = ["japan", "host"] + [draw(st.sampled_from(SEATS)) for _ in range(count - 2)]
    govs = draw(st.permutations(govs))
    members = [(f"m{i}", g) for i, g in enumerate(govs)]
    cochairs = {seat: next(m for m, g in members if g == seat) for seat in SEATS}
    others = [m for m, _ in members if m not in cochairs.values()]
    alternates = {}
    for seat in SEATS:
        if others and draw(st.booleans()):
            alternates[seat] = draw(st.sampled_from(others))
    sc = Scenario(zone, n, period_ends, draw(st.booleans()), draw(st.booleans()), members, cochairs,
                  alternates, dist, oracle_deadline(dist, zone, n, period_ends))
    ids = [m for m, _ in members]

    previous: list[datetime] = [dist]
    if draw(st.booleans()):  # everybody affirms once: makes unanimity reachable
        for m in ids:
            sc.assertions.append((_instant(draw, sc, previous), m, "affirmative"))
            previous.append(sc.assertions[-1][0])
    for _ in range(draw(st.integers(0, 8))):
        position = draw(st.sampled_from(["affirmative", "affirmative", "negative"]))
        sc.assertions.append((_instant(draw, sc, previous), draw(st.sampled_from(ids)), position))
        previous.append(sc.assertions[-1][0])
    for m in draw(st.lists(st.sampled_from(ids), max_size=2, unique=True)):
        sc.departures[m] = _instant(draw, sc, previous)
        previous.append(sc.departures[m])
    # A departed member cannot assert any more: such a timeline is invalid, not a case.
    sc.assertions = [a for a in sc.assertions if not (a[1] in sc.departures and a[0] >= sc.departures[a[1]])]
    for seat, alt in alternates.items():
        if draw(st.booleans()):
            at = _instant(draw, sc, previous)
            # Only while both the co-chair and the alternate are still members (else it is
            # an invalid timeline).
            if at < min(sc.departures.get(alt, NEVER), sc.departures.get(cochairs[seat], NEVER)):
                sc.revocations[seat] = at
    events = [("assert", i) for i in range(len(sc.assertions))] + [("revoke", s) for s in sc.revocations]
    # Departures are listed first, so that at one instant the file order agrees with the
    # lead's reading (departures before assertions). Where the two differ, the core follows
    # the file for seats: examples/timelines/tokyo-cochair-leaves-same-instant.yaml.
    sc.order = [("leave", m) for m in sc.departures] + list(draw(st.permutations(events)))
    if draw(st.booleans()):
        sc.evaluate_at = _instant(draw, sc, previous)
    for at in [dist, *previous, *sc.revocations.values(), *([sc.evaluate_at] if sc.evaluate_at else [])]:
        sc.texts.setdefault(at, _text(draw, at, sc.tz))
    return sc


def timeline(sc: Scenario) -> dict:
    """The scenario as the plain data of a SIMULATE.md timeline."""
    events = []
    for kind, key in sc.order:
        if kind == "assert":
            at, m, position = sc.assertions[key]
            e = {"at": sc.texts[at], "member": m, "assert": position}
            if position == "negative":
                e["opinion"] = "an opinion"
            events.append(e)
        elif kind == "leave":
            events.append({"at": sc.texts[sc.departures[key]], "member_leaves": key})
        else:
            events.append({"at": sc.texts[sc.revocations[key]], "revoke_alternate": {"cochair": sc.cochairs[key]}})
    data = {
        "members": [{"id": m, "government": g} for m, g in sc.members],
        "cochairs": dict(sc.cochairs),
        "alternates": {sc.cochairs[s]: a for s, a in sc.alternates.items()},
        "distributed_at": sc.texts[sc.dist],
        "events": events,
    }
    if sc.evaluate_at is not None:
        data["evaluate_at"] = sc.texts[sc.evaluate_at]
    return data


# ---- the oracle: PROCEDURE.md 3, 4, 5 by brute force ---------------------------------
@dataclass(frozen=True)
class Outcome:
    status: str
    basis: str | None
    adopted_at: datetime | None
    deadline: datetime
    escalations: int


def oracle(sc: Scenario) -> Outcome:
    deadline = sc.deadline
    electorate = [m for m, _ in sc.members]
    file_index = {ev: i for i, ev in enumerate(sc.order)}
    now = sc.evaluate_at or max([deadline, *(a[0] for a in sc.assertions), *sc.departures.values(),
                                 *sc.revocations.values()])
    # Facts at one instant: the deadline, then departures, then assertions in file order.
    facts = [(deadline, 0, 0, None)]
    facts += [(at, 1, file_index[("leave", m)], m) for m, at in sc.departures.items()]
    facts += [(a[0], 2, file_index[("assert", i)], a) for i, a in enumerate(sc.assertions)]
    facts = sorted(f for f in facts if f[0] <= now)

    def seats_of(member: str, at: datetime, index: int) -> list[str]:
        # PROCEDURE 4: the seat's holder, or its active alternate, at the time of the
        # assertion. A departure at that instant came first; a revocation at that instant
        # came first only if listed first (file order).
        out = []
        for seat in SEATS:
            holder, alt = sc.cochairs[seat], sc.alternates.get(seat)
            if member == holder and at < sc.departures.get(holder, NEVER):
                out.append(seat)
            elif member == alt and at < min(sc.departures.get(alt, NEVER), sc.departures.get(holder, NEVER)):
                revoked = sc.revocations.get(seat, NEVER)
                if at < revoked or (at == revoked and file_index[("revoke", seat)] > index):
                    out.append(seat)
        return out

    def state(prefix):
        active = set(electorate) - {f[3] for f in prefix if f[1] == 1}
        asserted = [f[3] for f in prefix if f[1] == 2]
        positions, seats = {}, {s: None for s in SEATS}
        for f in prefix:
            if f[1] == 2:
                at, m, p = f[3]
                positions[m] = p
                for seat in seats_of(m, at, f[2]):
                    seats[seat] = p
        counting = set()
        for i, (at, m, p) in enumerate(asserted):
            if p == "negative" and at < deadline:
                withdrawn = any(m2 == m and p2 == "affirmative" for _, m2, p2 in asserted[i + 1:])
                if sc.withdrawn_negative_counts or not withdrawn:
                    counting.add(m)
        unanimous = all(positions.get(m) == "affirmative" for m in active)
        seats_ok = all(p == "affirmative" for p in seats.values())
        passed = any(f[1] == 0 for f in prefix)
        return unanimous, seats_ok, counting, passed

    # The state reached at the deadline (judged first at its instant): for the option of 5 (i).
    at_deadline = next((state(facts[:k + 1]) for k, f in enumerate(facts) if f[1] == 0), None)
    escalations = sum(1 for a in sc.assertions if a[2] == "negative" and a[0] <= now)
    for k, fact in enumerate(facts):
        unanimous, seats_ok, counting, passed = state(facts[:k + 1])
        in_time = not sc.must_affirm or (at_deadline is not None and at_deadline[1])
        no_objection = passed and not counting and seats_ok and in_time
        if unanimous or no_objection:
            same_instant = [j for j in range(k, len(facts)) if facts[j][0] == fact[0]]
            both = any(state(facts[:j + 1])[0] for j in same_instant)
            return Outcome("adopted", "unanimous" if both else "no_objection", fact[0], deadline, escalations)
        if fact[1] == 0 and sc.must_affirm and not counting:
            return Outcome("lapsed", None, None, deadline, escalations)
    counting = state(facts)[2]
    return Outcome("objected" if counting else "open", None, None, deadline, escalations)


def core(sc: Scenario) -> Outcome:
    v = replay(timeline(sc), sc.rules()).verdict
    return Outcome(v.status, v.basis, v.adopted_at, v.deadline, len(v.escalations))


def _describe(sc: Scenario) -> str:
    """The failing case as a rules file and a timeline, ready for `jcbot simulate`."""
    rules = {"timezone": sc.zone, "electronic_decision": sc.rules().model_dump()["electronic_decision"]}
    return yaml.safe_dump({"rules": rules, "timeline": timeline(sc)}, sort_keys=False)


# ---- properties ---------------------------------------------------------------------
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_core_agrees_with_the_oracle(sc: Scenario):
    expected, actual = oracle(sc), core(sc)
    assert actual.deadline == expected.deadline, _describe(sc)
    assert (actual.status, actual.basis, actual.escalations) == (expected.status, expected.basis, expected.escalations), _describe(sc)
    assert actual.adopted_at == expected.adopted_at, _describe(sc)  # datetimes: compared as instants


@st.composite
def periods(draw):
    zone = draw(st.sampled_from(ZONES))
    n = draw(st.integers(1, 25))
    return zone, n, draw(distribution_instants(zone, n))


def _rules(zone: str, n: int, period_ends: str = "end_of_day") -> Rules:
    return rules_from_data({"timezone": zone, "membership": {"max_members_per_government": 10},
                            "electronic_decision": {"objection_period_days": n, "period_ends": period_ends}})


@settings(max_examples=300, deadline=None)
@given(periods())
def test_deadline_starts_a_local_day_and_the_period_has_n_plus_1_dates(period):
    zone, n, dist = period
    tz = ZoneInfo(zone)
    rules = _rules(zone, n)
    deadline = period_deadline(dist, rules.electronic_decision, rules.tz)
    local = deadline.astimezone(tz)
    at_transition = (deadline - SECOND).astimezone(tz).utcoffset() != local.utcoffset()
    assert local.time() == time(0) or at_transition, local.isoformat()
    assert local_date(deadline - SECOND, tz) < local.date(), "the deadline is the first instant of its day"
    # Walk the period hour by hour: its local dates are day 0 .. day N, N + 1 of them.
    seen, t = set(), dist
    while t < deadline:
        seen.add(local_date(t, tz))
        t += timedelta(hours=1)
    seen.add(local_date(deadline - SECOND, tz))
    day0 = local_date(dist, tz)
    assert sorted(seen) == [day0 + timedelta(days=i) for i in range(n + 1)]
    assert local.date() == day0 + timedelta(days=n + 1)


@settings(max_examples=200, deadline=None)
@given(periods(), st.sampled_from(["end_of_day", "exact"]))
def test_deadline_does_not_depend_on_how_distributed_at_is_written(period, period_ends):
    # The same instant written in UTC, in the committee's zone (a ZoneInfo, as a service
    # holding local times would pass it) or with a fixed offset is the same distribution.
    zone, n, dist = period
    rules = _rules(zone, n, period_ends)
    fixed = timezone(timedelta(hours=5, minutes=45))
    deadlines = {how: period_deadline(at, rules.electronic_decision, rules.tz) for how, at in
                 {"utc": dist.astimezone(UTC), "zone": dist.astimezone(rules.tz), "fixed": dist.astimezone(fixed)}.items()}
    assert deadlines["zone"] == deadlines["utc"] == deadlines["fixed"], deadlines
    assert deadlines["utc"] == oracle_deadline(dist, zone, n, period_ends)


def test_instants_in_the_committees_zone_keep_their_time_order():
    # Two facts in New York's repeated hour (1 November 2026): b affirms at 01:45 EDT
    # (05:45Z), c leaves at 01:15 EST (06:15Z, later). Unanimity is completed by c's
    # departure (PROCEDURE.md 5 (ii)), whichever offsets the instants are written in.
    ny = ZoneInfo("America/New_York")

    def adopted_at(write):
        d = write(datetime(2026, 10, 20, 12, tzinfo=ny))
        ro = Roster(_rules("America/New_York", 20))
        for m, g in (("a", "japan"), ("b", "host"), ("c", "host")):
            ro = ro.add_member(m, g, d)
        ro = ro.elect_cochair("japan", "a", d).elect_cochair("host", "b", d)
        dist = distribute(ro, d)
        ro = ro.remove_member("c", write(datetime(2026, 11, 1, 1, 15, fold=1, tzinfo=ny)))
        assertions = [Assertion("a", "affirmative", write(datetime(2026, 10, 21, 9, tzinfo=ny))),
                      Assertion("b", "affirmative", write(datetime(2026, 11, 1, 1, 45, tzinfo=ny)))]
        v = evaluate(dist, ro, assertions, datetime(2026, 12, 1, tzinfo=UTC))
        assert (v.status, v.basis) == ("adopted", "unanimous")
        return v.adopted_at

    assert adopted_at(lambda t: t.astimezone(UTC)) == datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
    assert adopted_at(lambda t: t) == datetime(2026, 11, 1, 6, 15, tzinfo=UTC)


def test_the_oracle_knows_the_worked_examples():
    # The oracle's calendar on PROCEDURE.md's example and on a skipped midnight.
    assert oracle_deadline(datetime(2026, 3, 2, 23, 30, tzinfo=UTC), "Asia/Tokyo", 20, "end_of_day") \
        == datetime(2026, 3, 23, 15, tzinfo=UTC)
    assert first_instant_of(date(2026, 9, 6), "America/Santiago") == datetime(2026, 9, 6, 4, tzinfo=UTC)
    assert first_instant_of(date(2026, 3, 8), "America/New_York") == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert datetime(2026, 3, 8, 7, tzinfo=UTC) in transitions("America/New_York")
