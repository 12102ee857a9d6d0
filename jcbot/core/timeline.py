"""`jcbot simulate` timelines: plain data -> validated events -> replay -> verdict.

Format: ../SIMULATE.md (members, cochairs, alternates, distributed_at, events,
evaluate_at). Two event kinds go beyond it and are documented in the README:
`member_joins` and `elect_cochair`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from jcbot.core.decision import POSITIONS, Assertion, Distribution, Verdict, check_assertion, distribute, evaluate
from jcbot.core.errors import ProcedureError
from jcbot.core.roster import GOVERNMENTS, Roster
from jcbot.core.rules import Rules


class TimelineError(ValueError):
    """An invalid timeline: the message names the field or member at fault."""


@dataclass(frozen=True)
class Replay:
    """The outcome of a replay: the distribution, the verdict and the instant judged."""

    distribution: Distribution
    verdict: Verdict
    evaluated_at: datetime
    roster: Roster


MIN_YEAR, MAX_YEAR = 1970, 9000
_TOP = {"members", "cochairs", "alternates", "distributed_at", "events", "evaluate_at"}
_EVENT_KINDS = ("assert", "designate_alternate", "revoke_alternate", "member_leaves", "member_joins", "elect_cochair")


def parse_instant(value: Any, where: str) -> datetime:
    """An ISO 8601 instant that must carry an offset (or Z)."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str):
        try:
            at = datetime.fromisoformat(value)
        except ValueError:
            raise TimelineError(f"{where}: expected an ISO 8601 instant such as 2026-03-02T10:00:00+09:00, got {value!r}") from None
    else:
        raise TimelineError(f"{where}: expected an ISO 8601 instant, got {value!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise TimelineError(f"{where}: instant {value!r} has no UTC offset (add +09:00, Z...)")
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        # Periods, deadlines and local calendars are computed from it: far years overflow.
        raise TimelineError(f"{where}: instant {value!r} is outside the years {MIN_YEAR}-{MAX_YEAR}")
    return at


def _mapping(value: Any, where: str, allowed: set[str] | None, required: set[str] = frozenset()) -> dict:
    """A mapping with only `allowed` keys (None: any) and all `required` ones."""
    if not isinstance(value, dict):
        raise TimelineError(f"{where}: expected a mapping, got {value!r}")
    for key in value:
        if allowed is not None and key not in allowed:
            raise TimelineError(f"{where}.{key}: unknown key (expected one of: {', '.join(sorted(allowed))})")
    for key in sorted(required - set(value)):
        raise TimelineError(f"{where}.{key}: required key is missing")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or not value.isprintable():
        raise TimelineError(f"{where}: expected a member id (printable text on one line), got {value!r}")
    return value


def _government(value: Any, where: str) -> str:
    if value not in GOVERNMENTS:
        raise TimelineError(f"{where}: expected 'japan' or 'host', got {value!r}")
    return value


def replay(data: Any, rules: Rules) -> Replay:
    """Replay a timeline (plain data, as read from YAML or JSON) under `rules`."""
    data = _mapping(data, "timeline", _TOP, {"members", "cochairs", "distributed_at"})
    start = parse_instant(data["distributed_at"], "distributed_at")
    roster = Roster(rules)
    members = data["members"]
    if not isinstance(members, list) or not members:
        raise TimelineError("members: expected a non-empty list of {id, government}")
    for i, m in enumerate(members):
        m = _mapping(m, f"members[{i}]", {"id", "government"}, {"id", "government"})
        roster = _step(lambda r: r.add_member(_text(m["id"], f"members[{i}].id"),
                                              _government(m["government"], f"members[{i}].government"), start),
                       roster, f"members[{i}]")
    cochairs = _mapping(data["cochairs"], "cochairs", set(GOVERNMENTS), set(GOVERNMENTS))
    for seat in GOVERNMENTS:
        who = _text(cochairs[seat], f"cochairs.{seat}")
        roster = _step(lambda r: r.elect_cochair(seat, who, start), roster, f"cochairs.{seat}")
    for cochair, alternate in _mapping(data.get("alternates") or {}, "alternates", None).items():
        roster = _step(lambda r: r.designate_alternate(cochair, _text(alternate, f"alternates.{cochair}"), start),
                       roster, f"alternates.{cochair}")
    dist = _step_value(lambda: distribute(roster, start), "distributed_at")

    events = data.get("events") or []
    if not isinstance(events, list):
        raise TimelineError("events: expected a list")
    parsed = [_event(e, i) for i, e in enumerate(events)]
    parsed.sort(key=lambda e: e[0])  # stable: equal times keep file order
    assertions: list[Assertion] = []
    for at, i, kind, body in parsed:
        where = f"events[{i}]"
        if at < start:
            raise TimelineError(f"{where}.at: {at.isoformat()} is before distributed_at")
        if kind == "assert":
            _step_value(lambda: check_assertion(dist, roster, body["member"], body["assert"], at, body.get("opinion")), where)
            # The seats are those of this instant in file order: a revocation listed after
            # the assertion at the same instant does not reach back (PROCEDURE 4).
            seats = roster.seats_spoken_for(body["member"], at)
            assertions.append(Assertion(body["member"], body["assert"], at, body.get("opinion"), ref=where, seats=seats, seq=roster.changes))
        else:
            roster = _step(_ROSTER_EVENTS[kind](body, at), roster, where)
    last = max([dist.deadline] + [e[0] for e in parsed])
    now = parse_instant(data["evaluate_at"], "evaluate_at") if data.get("evaluate_at") is not None else last
    return Replay(dist, evaluate(dist, roster, assertions, now), now, roster)


def _event(e: Any, i: int) -> tuple[datetime, int, str, dict]:
    where = f"events[{i}]"
    if not isinstance(e, dict):
        raise TimelineError(f"{where}: expected a mapping, got {e!r}")
    kinds = [k for k in _EVENT_KINDS if k in e]
    if len(kinds) != 1:
        raise TimelineError(f"{where}: expected exactly one of {', '.join(_EVENT_KINDS)}")
    kind = kinds[0]
    allowed = {"at", "member", "assert", "opinion"} if kind == "assert" else {"at", kind}
    _mapping(e, where, allowed, {"at", "member"} if kind == "assert" else {"at"})
    at = parse_instant(e["at"], f"{where}.at")
    if kind == "assert":
        _text(e["member"], f"{where}.member")
        if e["assert"] not in POSITIONS:
            raise TimelineError(f"{where}.assert: expected 'affirmative' or 'negative', got {e['assert']!r}")
        if "opinion" in e and not isinstance(e["opinion"], str):
            raise TimelineError(f"{where}.opinion: expected text, got {e['opinion']!r}")
        return at, i, kind, e
    body = e[kind]
    if kind == "member_leaves":
        return at, i, kind, {"member": _text(body, f"{where}.member_leaves")}
    keys = {"designate_alternate": {"cochair", "alternate"}, "revoke_alternate": {"cochair"},
            "member_joins": {"id", "government"}, "elect_cochair": {"seat", "member"}}[kind]
    body = _mapping(body, f"{where}.{kind}", keys, keys)
    for k in keys:
        if k in ("government", "seat"):
            _government(body[k], f"{where}.{kind}.{k}")
        else:
            _text(body[k], f"{where}.{kind}.{k}")
    return at, i, kind, body


_ROSTER_EVENTS: dict[str, Callable[[dict, datetime], Callable[[Roster], Roster]]] = {
    "designate_alternate": lambda b, at: lambda r: r.designate_alternate(b["cochair"], b["alternate"], at),
    "revoke_alternate": lambda b, at: lambda r: r.revoke_alternate(b["cochair"], at),
    "member_leaves": lambda b, at: lambda r: r.remove_member(b["member"], at),
    "member_joins": lambda b, at: lambda r: r.add_member(b["id"], b["government"], at),
    "elect_cochair": lambda b, at: lambda r: r.elect_cochair(b["seat"], b["member"], at),
}


def _step(change: Callable[[Roster], Roster], roster: Roster, where: str) -> Roster:
    try:
        return change(roster)
    except ProcedureError as exc:
        raise TimelineError(f"{where}: {exc}") from None


def _step_value(call: Callable[[], Any], where: str) -> Any:
    try:
        return call()
    except ProcedureError as exc:
        raise TimelineError(f"{where}: {exc}") from None
