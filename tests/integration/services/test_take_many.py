"""A burst of inputs in one transaction (take_many) ends exactly as the same inputs taken one by one.

Two committees set up alike get the same clicks: one committee's through `slack.click`
one at a time, the other's through `slack.clicks` in one group commit. The burst
includes a refusal, a repeat, an adoption half-way (the clicks after it see it) and a
negative that escalates; what is stored (assertions, decisions, audit events, notices)
must be the same, committee for committee. An input that raises is rolled back alone.
"""
from __future__ import annotations

from sqlalchemy import select, text

from jcbot.services.intake import Input, take_many
from jcbot.services.intake import slack as slack_intake
from jcbot.store import audit
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Decision, Proposal, ProposalVersion

from .helpers import committee, distributed, tick, variant
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

MEMBERS = ("tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg")


def _burst(first: str, second: str) -> list[slack_intake.Click]:
    def c(handle: str, ref: str, position: str = "affirmative", opinion: str | None = None, key: str = "",
          version: int = 1) -> slack_intake.Click:
        # The evidence names the proposal by its place in the burst: the same in both committees.
        return slack_intake.Click(f"U{handle.upper()}", handle, ref, version, position, opinion,
                                  key or f"{handle}-{'first' if ref == first else 'second'}-{position}")

    return [
        c("tanaka", first),
        c("nobody", first),                                     # refused: not a member
        c("sato", first),
        c("sato", first),                                       # the same evidence again: a duplicate
        c("suzuki", first), c("bat", first), c("dorj", first),
        c("tsetseg", first),                                    # unanimity: adopted here
        c("bat", first, "negative", "Too late to object", key="bat-late"),  # after adoption: recorded, ignored
        c("tanaka", second, "negative", "The baseline is too high"),     # escalates to both co-chairs
        c("sato", second, version=9),                           # refused: no such version
        c("dorj", second),
    ]


def _state(engine, slug: str) -> dict:
    """What a committee's proposals ended with, with nothing that differs between committees by name or id."""
    with session_scope(engine) as s:
        cid = s.execute(text("SELECT id FROM committee WHERE slug = :s"), {"s": slug}).scalar_one()
        proposals = list(s.scalars(select(Proposal).where(Proposal.committee_id == cid).order_by(Proposal.id)))
        out = {}
        for n, p in enumerate(proposals):
            v = s.scalars(select(ProposalVersion).where(ProposalVersion.proposal_id == p.id)).one()
            out[n] = {
                "status": (p.status, v.status, v.basis, v.adopted_at, v.next_change_at),
                "assertions": [(a.member, a.position, a.opinion, a.at, a.channel, a.recorded_by) for a in s.scalars(
                    select(AssertionRecord).where(AssertionRecord.version_id == v.id).order_by(AssertionRecord.id))],
                "decisions": [(d.basis, d.adopted_at, d.title) for d in s.scalars(
                    select(Decision).where(Decision.version_id == v.id))],
            }
        events = s.execute(text("SELECT action, actor, data FROM audit_event WHERE committee_id = :c "
                                "AND (action LIKE 'assertion.%' OR action = 'proposal.adopted') ORDER BY id"),
                           {"c": cid}).all()
        notices = s.execute(text("SELECT kind, channel, recipient FROM outbox_message WHERE committee_id = :c "
                                 "AND kind IN ('confirmation', 'escalation', 'adoption', 'announce_adoption') "
                                 "ORDER BY id"), {"c": cid}).all()
    # Only the committee's code differs in what was written (decision numbers, item references).
    out["events"] = [(a, who, data.replace('"MX', '"MN')) for a, who, data in events]
    out["notices"] = [(k, ch, r.replace(slug, "SLUG")) for k, ch, r in notices]
    return out


def test_a_burst_in_one_transaction_ends_as_the_same_clicks_one_by_one(ctx, engine):
    committee(ctx, slug="one-by-one")
    committee(ctx, slug="together", text_=variant("japan-mongolia", **{"code: MN": "code: MX"}))
    refs = {slug: (distributed(ctx, slug=slug), distributed(ctx, slug=slug)) for slug in ("one-by-one", "together")}
    tick(ctx.clock)

    alone = []
    for c in _burst(*refs["one-by-one"]):
        try:
            alone.append(slack_intake.click(ctx, c.user_id, c.handle, c.ref, c.version, c.position, c.opinion,
                                            c.evidence_key))
        except Exception as error:  # noqa: BLE001 - compared below
            alone.append(error)
    together = slack_intake.clicks(ctx, _burst(*refs["together"]))

    assert [type(o).__name__ if isinstance(o, Exception) else (o.outcome, o.rule) for o in together] == \
           [type(o).__name__ if isinstance(o, Exception) else (o.outcome, o.rule) for o in alone]
    assert [(o.outcome, o.rule) for o in together] == [
        ("recorded", "record"), ("refused", "member"), ("recorded", "record"), ("duplicate", "seen"),
        ("recorded", "record"), ("recorded", "record"), ("recorded", "record"), ("recorded", "record"),
        ("recorded", "record"), ("recorded", "record"), ("refused", "version"), ("recorded", "record")]
    assert together[7].recorded.status == "adopted" and together[8].recorded.ignored
    first, second = _state(engine, "one-by-one"), _state(engine, "together")
    assert first == second
    assert [d[0] for d in second[0]["decisions"]] == ["unanimous"]  # adopted once, not again by a later click
    assert [n for n in second["notices"] if n[0] == "escalation"]
    with session_scope(engine) as s:
        assert audit.verify(s).ok


def test_an_input_that_raises_is_rolled_back_alone(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    good = [slack_intake.Click(f"U{h.upper()}", h, ref, 1, "affirmative", None, f"k-{h}") for h in ("tanaka", "sato")]

    def broken(tx):
        tx.audit("test.partial", f"proposal:{ref}", {})  # written, then the input fails
        raise RuntimeError("the case could not be read")

    out = take_many(ctx, [good[0].input(), Input("slack:UBROKEN", (), broken), good[1].input()])
    assert isinstance(out[1], RuntimeError) and str(out[1]) == "the case could not be read"
    assert [o.outcome for o in (out[0], out[2])] == ["recorded", "recorded"]
    with session_scope(engine) as s:
        assert s.execute(text("SELECT count(*) FROM audit_event WHERE action = 'test.partial'")).scalar_one() == 0
        members = s.execute(text("SELECT member FROM assertion ORDER BY id")).scalars().all()
        assert members == ["tanaka", "sato"]
        assert audit.verify(s).ok  # no gap where the rolled-back event was


def test_a_budget_stops_taking_new_inputs_and_the_rest_can_follow(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)
    burst = [slack_intake.Click(f"U{h.upper()}", h, ref, 1, "affirmative", None, f"k-{h}") for h in MEMBERS]
    first = slack_intake.clicks(ctx, burst, budget_s=0)
    assert len(first) == 1  # at least one input each call, whatever the budget
    rest = slack_intake.clicks(ctx, burst[len(first):])
    assert [o.outcome for o in first + rest] == ["recorded"] * len(MEMBERS)
    assert rest[-1].recorded.status == "adopted"


def test_a_version_is_read_once_per_burst_and_an_input_rolled_back_is_forgotten(ctx, engine):
    """Inputs of one transaction share what it read and wrote of a version (store.memo), but
    not what an input rolled back wrote: the member's same click after it is recorded, not a duplicate."""
    from sqlalchemy import event

    from jcbot.services.intake.chain import run
    from jcbot.services.intake.record import record

    committee(ctx)
    ref = distributed(ctx)
    tick(ctx.clock)

    def click(handle: str, key: str) -> slack_intake.Click:
        return slack_intake.Click(f"U{handle.upper()}", handle, ref, 1, "affirmative", None, key)

    def recorded_then_broken(tx):
        case = click("sato", "sato-1").input().make_case(tx)
        assert run(slack_intake.RULES, case).stop is None
        record(case, "slack:USATO")  # written in this input's savepoint, then the input fails
        raise RuntimeError("failed after recording")

    reads = []
    listener = lambda conn, cursor, statement, *rest: reads.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        out = take_many(ctx, [click("tanaka", "tanaka-1").input(), Input("slack:USATO", (), recorded_then_broken),
                              click("sato", "sato-1").input(), click("suzuki", "suzuki-1").input(),
                              click("suzuki", "suzuki-1").input()])
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert isinstance(out[1], RuntimeError)
    assert [(o.outcome, o.rule) for o in (out[0], out[2], out[3], out[4])] == [
        ("recorded", "record"), ("recorded", "record"), ("recorded", "record"), ("duplicate", "seen")]
    # The version's assertions read by the first input, again after the rollback, then never.
    assert len([s for s in reads if s.lstrip().startswith("SELECT assertion.")]) == 2
    with session_scope(engine) as s:
        assert s.execute(text("SELECT member FROM assertion ORDER BY id")).scalars().all() == ["tanaka", "sato", "suzuki"]
