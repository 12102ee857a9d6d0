"""jcbot.services.public_inputs: pending until confirmed; the cycle core says whether a confirmation counts."""
from __future__ import annotations

from datetime import timedelta

import pytest

from jcbot.services import cases, public_inputs
from jcbot.services.roster import add_secretariat
from jcbot.store.cases import CaseEvent
from jcbot.store.inputs import PublicInput

from .helpers import SECRETARIAT, audit_actions, committee, new_context, outbox, rows, tick
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures

SLUG = "japan-mongolia"
NET = "203.0.113.0/24"


def _open_case(ctx):
    committee(ctx)
    add_secretariat(ctx, "Alice", SECRETARIAT, slug=SLUG, email="alice@secretariat.example")
    case = cases.submit(ctx, SLUG, "methodology", "Energy-efficient transformers", "pp@proponent.example", [],
                        SECRETARIAT)
    tick(ctx.clock, 60)
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    tick(ctx.clock)
    return case


def _send(ctx, ref, email="ana@example.org", network=NET, name="Ana Ruiz"):
    return public_inputs.submit(ctx, ref, name, "Green Institute", "The baseline is too high.", email, network)


def _token(engine, input_id):
    link = next(n for n in outbox(engine, "public_input") if n.payload["key"] == f"public_input:{input_id}").payload["data"]["link"]
    return link.rsplit("/", 1)[1]


def test_an_input_confirmed_within_the_window_counts(ctx, engine):
    case = _open_case(ctx)
    sent = _send(ctx, case.ref, email=" Ana@Example.org ")
    [row] = rows(engine, PublicInput)
    assert (row.confirmed_at, row.counted, row.email, row.network) == (None, False, "ana@example.org", NET)
    [notice] = outbox(engine, "public_input")
    assert notice.address == "ana@example.org" and notice.payload["data"]["link"].startswith("http")
    token = _token(engine, sent.input_id)
    assert token not in row.token_hash  # only its hash is stored
    assert "Asia/Ulaanbaatar" in sent.window_end
    p = public_inputs.pending(ctx, token)
    assert p is not None and not p.confirmed and p.case_ref == case.ref
    tick(ctx.clock)
    done = public_inputs.confirm(ctx, token)
    assert done is not None and done.counted and not done.already
    assert cases.show(ctx, case.ref).view.inputs_counted == (str(sent.input_id),)
    assert rows(engine, PublicInput)[0].counted
    assert "case.input_confirmed" in audit_actions(engine) and "input.submitted" in audit_actions(engine)
    # The same link again: the first verdict stands, no second event.
    again = public_inputs.confirm(ctx, token)
    assert again.counted and again.already
    assert len(rows(engine, CaseEvent, CaseEvent.kind == "input_confirmed")) == 1
    with ctx.read() as tx:
        assert [i.name for i in public_inputs.counted(tx.session, case.id)] == ["Ana Ruiz"]


def test_a_confirmation_after_the_window_is_refused_with_its_end(ctx, engine):
    case = _open_case(ctx)
    sent = _send(ctx, case.ref)
    ctx.clock.advance(timedelta(days=16))  # the 15-day window has closed
    done = public_inputs.confirm(ctx, _token(engine, sent.input_id))
    assert done is not None and not done.counted
    assert done.window_end == sent.window_end and "Asia/Ulaanbaatar" in done.window_end
    assert "the window ended at" in done.reason
    view = cases.show(ctx, case.ref).view
    assert view.inputs_refused == (str(sent.input_id),) and view.inputs_counted == ()
    [row] = rows(engine, PublicInput)
    assert row.confirmed_at is not None and not row.counted and "window ended" in row.refused_reason
    with ctx.read() as tx:
        assert public_inputs.counted(tx.session, case.id) == []


def test_submitting_outside_the_window_is_refused_at_once(ctx, engine):
    committee(ctx)
    case = cases.submit(ctx, SLUG, "methodology", "Boilers", "pp@proponent.example", [], SECRETARIAT)
    with pytest.raises(public_inputs.InputRefused, match="no call for public inputs open"):
        _send(ctx, case.ref)
    tick(ctx.clock)
    cases.check(ctx, case.ref, True, None, SECRETARIAT)
    ctx.clock.advance(timedelta(days=20))
    with pytest.raises(public_inputs.InputRefused, match=r"closed on .*\(Asia/Ulaanbaatar, UTC\+08:00\)") as exc:
        _send(ctx, case.ref)
    assert exc.value.window_end is not None
    assert rows(engine, PublicInput) == [] and outbox(engine, "public_input") == []


def test_fields_are_checked(ctx):
    case = _open_case(ctx)
    with pytest.raises(public_inputs.InvalidInput) as exc:
        public_inputs.submit(ctx, case.ref, " ", None, "", "not-an-address", NET)
    assert set(exc.value.fields) == {"name", "text", "email"}
    with pytest.raises(public_inputs.InvalidInput) as exc:
        public_inputs.submit(ctx, case.ref, "A" * 201, None, "text", "a@example.org", NET)
    assert set(exc.value.fields) == {"name"}


def test_rate_limits_per_address_and_per_network(engine, clock, tmp_path):
    ctx = new_context(engine, clock, tmp_path / "s")
    case = _open_case(ctx)
    for i in range(5):
        _send(ctx, case.ref, email="ana@example.org", network=f"198.51.{i}.0/24")
    with pytest.raises(public_inputs.RateLimited, match="at most 5 from one email address") as exc:
        _send(ctx, case.ref, email="ANA@example.org", network="192.0.2.0/24")
    assert 0 < exc.value.retry_after <= 24 * 3600
    for i in range(20):
        _send(ctx, case.ref, email=f"p{i}@example.org", network=NET)
    with pytest.raises(public_inputs.RateLimited, match="at most 20 from one network in an hour"):
        _send(ctx, case.ref, email="p99@example.org", network=NET)
    assert len(rows(engine, PublicInput)) == 25
    clock.advance(timedelta(hours=1, minutes=1))  # the network's hour has passed
    _send(ctx, case.ref, email="p99@example.org", network=NET)


def test_a_pending_input_survives_a_restart(engine, clock, tmp_path):
    first = new_context(engine, clock, tmp_path / "s")
    case = _open_case(first)
    sent = _send(first, case.ref)
    first.engine.dispose()
    # A new process: a new context on the same database knows the pending input and its link.
    second = new_context(engine, clock, tmp_path / "s")
    tick(clock, 60 * 24)
    done = public_inputs.confirm(second, _token(engine, sent.input_id))
    assert done is not None and done.counted
    assert cases.show(second, case.ref).view.inputs_counted == (str(sent.input_id),)


def test_network_of():
    assert public_inputs.network_of("203.0.113.77") == "203.0.113.0/24"
    assert public_inputs.network_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert public_inputs.network_of("2001:db8:1:2:3::4") == "2001:db8:1:2::/64"
    assert public_inputs.network_of(None) == "unknown" and public_inputs.network_of("nonsense") == "unknown"


def test_simultaneous_submissions_from_one_address_cannot_pass_its_limit(ctx, engine):
    # Ten at once from one address (limit 5): each counts the rows under a lock the others wait for.
    import threading

    case = _open_case(ctx)
    start, outcomes = threading.Barrier(10), []

    def one(i: int) -> None:
        start.wait()
        try:
            _send(ctx, case.ref, email="ana@example.org", network=f"198.51.{i}.0/24")
            outcomes.append("stored")
        except public_inputs.RateLimited:
            outcomes.append("limited")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["limited"] * 5 + ["stored"] * 5
    assert len(rows(engine, PublicInput)) == 5


def test_inputs_never_confirmed_are_deleted_after_the_set_days(ctx, engine):
    case = _open_case(ctx)
    kept = _send(ctx, case.ref, email="ana@example.org")
    dropped = _send(ctx, case.ref, email="bo@example.org", name="Bo Li")
    assert public_inputs.confirm(ctx, _token(engine, kept.input_id)).counted
    ctx.clock.advance(timedelta(days=29))
    assert public_inputs.purge_unconfirmed(ctx) == 0  # not yet: JCBOT_INPUTS_UNCONFIRMED_DAYS is 30
    ctx.clock.advance(timedelta(days=1, minutes=1))
    assert public_inputs.purge_unconfirmed(ctx) == 1
    assert [r.id for r in rows(engine, PublicInput)] == [kept.input_id]  # the confirmed one stays, published
    assert public_inputs.confirm(ctx, _token(engine, dropped.input_id)) is None  # the link is now unknown
    assert public_inputs.pending(ctx, _token(engine, dropped.input_id)) is None
    assert "input.purged" in audit_actions(engine)
    assert public_inputs.purge_unconfirmed(ctx) == 0
