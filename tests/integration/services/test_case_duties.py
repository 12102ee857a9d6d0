"""Case duties (PROJECT_CYCLE: the secretariat's checks are duties): overdue checks and cases no proposal carries,
on the dashboard and in the duty notices to the secretariat and co-chairs, once a day each."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from jcbot.services import board, case_duties, cases, proposals, reminders
from jcbot.services.roster import add_secretariat
from jcbot.services.viewers import viewer

from .helpers import SECRETARIAT, committee, outbox, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

SLUG = "japan-mongolia"


def _setup(ctx):
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")


def _duties(ctx):
    from jcbot.store.models import Committee

    with ctx.read() as tx:
        c = tx.session.exec(select(Committee)).one()
        return [(d.kind, d.case) for d in case_duties.of_committee(tx.session, c, tx.now)]


def _duty_notices(engine, case_ref):
    return [n for n in outbox(engine, "duty") if n.payload["data"].get("case") == case_ref]


def test_an_overdue_check_reminds_the_secretariat_and_cochairs_once_a_day_until_recorded(ctx, engine):
    _setup(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Efficient boilers", "pp@proponent.example", [], SECRETARIAT)
    ctx.clock.advance(timedelta(days=7))  # day 7 of the 7-day check: still within it
    assert _duties(ctx) == []
    reminders.flag_duties(ctx)
    assert not _duty_notices(engine, case.ref)
    ctx.clock.advance(timedelta(days=1, hours=1))
    assert _duties(ctx) == [("check_overdue", case.ref)]
    reminders.flag_duties(ctx)
    first = _duty_notices(engine, case.ref)
    # The co-chairs (and their alternates) and the secretariat, each once.
    assert {n.recipient for n in first} >= {"tanaka", "bat"} and any(n.recipient.startswith("secretariat:") for n in first)
    assert len({n.recipient for n in first}) == len(first)
    mail = first[0].payload["data"]
    assert mail["duty"] == "check_overdue" and "completeness check is overdue" in mail["lines"][0]
    assert mail["subject"] == f"[JC-MN] {case.ref}: completeness check overdue"
    tick(ctx.clock, 60)
    reminders.flag_duties(ctx)
    assert len(_duty_notices(engine, case.ref)) == len(first)  # the same day: nothing new
    ctx.clock.advance(timedelta(days=1))
    reminders.flag_duties(ctx)
    assert len(_duty_notices(engine, case.ref)) == 2 * len(first)  # the next day: once more
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    assert _duties(ctx) == []
    ctx.clock.advance(timedelta(days=1))
    reminders.flag_duties(ctx)
    assert len(_duty_notices(engine, case.ref)) == 2 * len(first)


def test_a_case_awaiting_the_jc_without_a_proposal_is_a_duty_until_one_is_distributed(ctx, engine):
    _setup(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Efficient boilers", "pp@proponent.example", [], SECRETARIAT)
    tpe = cases.submit(ctx, SLUG, "tpe", "Verifiers Ltd", "tpe@tpe.example", [], SECRETARIAT)
    tick(ctx.clock)
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    assert _duties(ctx) == [("awaiting_proposal", tpe.ref)]  # a TPE awaits the JC from its application
    ctx.clock.advance(timedelta(days=17))  # the 15-day public-input window has closed
    assert _duties(ctx) == [("awaiting_proposal", case.ref), ("awaiting_proposal", tpe.ref)]
    with ctx.read() as tx:
        who = viewer(tx.session, "alice@secretariat.example", tx.now)
    [shown] = board.board(ctx, who)
    assert [(d.kind, d.case) for d in shown.duties if d.case] == _duties(ctx)
    p = cases.propose(ctx, [case.ref, tpe.ref], SECRETARIAT)
    assert len(_duties(ctx)) == 2  # a draft is not before the JC yet
    reminders.flag_duties(ctx)
    assert {n.payload["data"]["duty"] for n in _duty_notices(engine, case.ref)} == {"awaiting_proposal"}
    tick(ctx.clock)
    proposals.distribute(ctx, p.ref, SECRETARIAT)
    assert _duties(ctx) == []
    proposals.withdraw(ctx, p.ref, SECRETARIAT)
    assert _duties(ctx) == [("awaiting_proposal", case.ref), ("awaiting_proposal", tpe.ref)]
