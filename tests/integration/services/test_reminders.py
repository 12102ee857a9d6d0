"""Reminders, the daily digest and calendar duties: due once, to the right people."""
from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from jcbot.services import assertions, reminders

from .helpers import MN_DEADLINE, SECRETARIAT, committee, distributed, outbox, variant
from .helpers import clock, ctx, engine  # noqa: F401 - fixtures


def _to(engine, kind):
    return sorted((m.recipient, m.payload["key"]) for m in outbox(engine, kind))


def test_reminders_go_to_awaited_members_once_and_seats_to_their_cochairs(ctx, engine):
    committee(ctx)  # japan-mongolia: reminders 7, 3 and 1 days before; cochairs tanaka/bat, alternates sato/dorj
    ref = distributed(ctx)
    for handle in ("tanaka", "sato", "suzuki"):
        assertions.record_assertion(ctx, ref, handle, "affirmative", channel="web", evidence_key=handle, actor="t")
    ctx.clock.set(MN_DEADLINE - timedelta(days=7, minutes=1))
    assert reminders.send_reminders(ctx) == 0 and _to(engine, "reminder") == []
    ctx.clock.set(MN_DEADLINE - timedelta(days=7))
    sent = reminders.send_reminders(ctx)
    assert [r for r, _ in _to(engine, "reminder")] == ["bat", "dorj", "tsetseg"]  # never those who asserted
    # The host seat has no affirmation: its co-chair and alternate are told; the japan seat is fine.
    assert [r for r, _ in _to(engine, "seat_reminder")] == ["bat", "dorj"]
    assert sent == 10  # five notices, each by email and by Slack
    assert reminders.send_reminders(ctx) == 0  # a second tick sends nothing twice


def test_after_downtime_only_the_latest_mark_is_sent_and_after_the_deadline_only_the_seats(ctx, engine):
    committee(ctx)
    ref = distributed(ctx)
    ctx.clock.set(MN_DEADLINE - timedelta(hours=1))  # the 7- and 3-day marks passed while down
    reminders.send_reminders(ctx)
    assert {key.rsplit(":", 1)[1] for _, key in _to(engine, "reminder")} == {"1"}
    assertions.record_assertion(ctx, ref, "tanaka", "affirmative", channel="web", evidence_key="t", actor="t")
    ctx.clock.set(MN_DEADLINE + timedelta(days=2))
    before = len(_to(engine, "reminder"))
    reminders.send_reminders(ctx)
    assert len(_to(engine, "reminder")) == before  # no member reminders once the period is over
    after = [(r, k) for r, k in _to(engine, "seat_reminder") if k.endswith(":after")]
    assert sorted(r for r, _ in after) == ["bat", "dorj"]  # the host seat is still awaited


def test_the_daily_digest_goes_to_the_staff_once_a_day(ctx, engine):
    from jcbot.services import roster

    committee(ctx)
    roster.add_secretariat(ctx, "Alice", SECRETARIAT, slug="japan-mongolia", email="alice@jc.example")
    distributed(ctx)
    # 07:59 in Ulaanbaatar (UTC+8; MN_DEADLINE is a local midnight): not yet; 08:00: once.
    ctx.clock.set(MN_DEADLINE - timedelta(days=5) + timedelta(hours=7, minutes=59))
    assert reminders.send_digests(ctx) == 0
    ctx.clock.advance(timedelta(minutes=1))
    assert reminders.send_digests(ctx) > 0
    staff = sorted(r for r, _ in _to(engine, "digest"))
    assert staff == ["bat", "dorj", "sato", "secretariat:1", "tanaka"]
    ctx.clock.advance(timedelta(hours=3))
    assert reminders.send_digests(ctx) == 0


def test_a_year_without_a_meeting_is_flagged_once(ctx, engine):
    committee(ctx)
    ctx.clock.advance(timedelta(days=300))
    assert reminders.flag_duties(ctx) == 0  # terms run, a meeting is not yet overdue
    ctx.clock.advance(timedelta(days=66))
    assert reminders.flag_duties(ctx) > 0
    duties = outbox(engine, "duty")
    # The co-chairs' terms (one year) ended too: with no secretariat registered, every
    # active member hears of it.
    assert {m.recipient for m in duties} == {"tanaka", "sato", "suzuki", "bat", "dorj", "tsetseg"}
    lines = {line for m in duties for line in m.payload["data"]["lines"]}
    assert any("No meeting of the JC" in line for line in lines)
    assert any("co-chair seat is vacant" in line for line in lines)
    assert reminders.flag_duties(ctx) == 0


def test_terms_ending_soon_go_to_the_cochairs_and_the_secretariat(ctx, engine):
    from jcbot.services import roster

    committee(ctx)
    roster.add_secretariat(ctx, "Alice", SECRETARIAT, slug="japan-mongolia", email="alice@jc.example")
    ctx.clock.advance(timedelta(days=340))
    reminders.flag_duties(ctx)
    duties = outbox(engine, "duty")
    assert {m.recipient for m in duties} == {"tanaka", "sato", "bat", "dorj", "secretariat:1"}
    assert all("term" in m.payload["data"]["lines"][0] for m in duties)


def test_nothing_due_takes_no_write_lock(ctx):
    # The scheduler judges reminders, digests and duties every tick: with nothing due they
    # must not queue behind (or hold) the write lock that assertions and the dispatcher need.
    import threading

    from support.write_lock import write_lock_held

    committee(ctx)
    distributed(ctx)
    for send in (reminders.send_reminders, reminders.send_digests, reminders.flag_duties):
        send(ctx)  # whatever is due now is enqueued; the next tick finds nothing new
    results: list[int] = []
    with write_lock_held(ctx.engine):
        worker = threading.Thread(target=lambda: results.extend(
            send(ctx) for send in (reminders.send_reminders, reminders.send_digests, reminders.flag_duties)))
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "a tick with nothing due waited for the write lock"
    assert results == [0, 0, 0]


def test_the_digest_lists_the_committees_delivery_problems(ctx, engine):
    # Issue 14: a message that bounced after sending (or failed for good, or is being
    # retried) and a member no notice reaches are in the co-chairs' digest, as on the
    # dashboard and in `jcbot pending`; another committee's problem is not.
    from jcbot.services import roster
    from jcbot.store import outbox as store_outbox
    from jcbot.store.db import session_scope
    from jcbot.store.models import Member

    committee(ctx)
    committee(ctx, slug="japan-thailand", text_=variant("japan-mongolia", **{"code: MN": "code: TH"}))
    roster.add_secretariat(ctx, "Alice", SECRETARIAT, slug="japan-mongolia", email="alice@jc.example")
    distributed(ctx)
    distributed(ctx, slug="japan-thailand")
    rows = {(r.committee_id, r.recipient): r for r in outbox(engine, "distribution")}  # by handle
    mn = next(cid for cid, who in rows if who == "suzuki")
    bounced, failed, other = rows[(mn, "suzuki")].id, rows[(mn, "bat")].id, \
        next(r.id for (cid, who), r in rows.items() if cid != mn and who == "suzuki")
    with session_scope(engine) as s:
        for mid in (bounced, other):
            s.get(store_outbox.OutboxMessage, mid).status = "sent"
        row = s.get(store_outbox.OutboxMessage, failed)
        row.status, row.attempts, row.last_error = "failed", 3, "550 5.1.1 mailbox unavailable"
        s.flush()
        for mid in (bounced, other):
            store_outbox.mark_bounced(s, mid, now=ctx.clock.now(),
                                      reason="bounced after sending: 550 5.1.1 <suzuki@x>: User unknown")
        for m in s.exec(select(Member).where(Member.handle == "tsetseg", Member.committee_id == mn)):
            m.email, m.slack_user_id = None, None
    mail = {r.id: r.address for r in rows.values()}
    ctx.clock.set(MN_DEADLINE - timedelta(days=5) + timedelta(hours=8))
    assert reminders.send_digests(ctx) > 0
    digests = [m for m in outbox(engine, "digest") if m.committee_id == mn]
    assert sorted(m.recipient for m in digests) == ["bat", "dorj", "sato", "secretariat:1", "tanaka"]
    for m in digests:
        lines = m.payload["data"]["lines"]
        assert any(line.startswith(f"Delivery problem: distribution (email) to {mail[bounced]} bounced after sending: "
                                   f"550 5.1.1 <suzuki@x>: User unknown (jcbot outbox show {bounced})") for line in lines)
        assert f"Delivery problem: distribution (email) to {mail[failed]} failed for good after 3 attempts: 550 5.1.1 mailbox " \
               f"unavailable (jcbot outbox show {failed})" in lines
        assert not any(f"outbox show {other})" in line for line in lines)  # the other committee's
        assert any(line.startswith("jcbot cannot reach 1 member") and "Tsetseg" in line for line in lines)
    # The other committee's digest has its own bounce, and nothing of the first one's.
    theirs = [m for m in outbox(engine, "digest") if m.committee_id != mn]
    assert theirs and all(any(f"outbox show {other})" in line for line in m.payload["data"]["lines"]) and
                          not any(f"outbox show {bounced})" in line for line in m.payload["data"]["lines"])
                          for m in theirs)


def test_a_delivery_problem_alone_makes_a_digest(ctx, engine):
    # No open proposal: a bounced message is still worth the co-chairs' morning.
    from jcbot.services import proposals
    from jcbot.store import outbox as store_outbox
    from jcbot.store.db import session_scope

    committee(ctx)
    ref = distributed(ctx)
    ctx.clock.set(MN_DEADLINE - timedelta(days=5) + timedelta(hours=8))
    proposals.withdraw(ctx, ref, SECRETARIAT, note="a typo")
    assert reminders.send_digests(ctx) == 0  # nothing open, nothing lost: no digest
    row = next(r for r in outbox(engine, "distribution") if r.recipient == "dorj")
    with session_scope(engine) as s:
        s.get(store_outbox.OutboxMessage, row.id).status = "sent"
        s.flush()
        store_outbox.mark_bounced(s, row.id, now=ctx.clock.now(), reason="bounced after sending: 550 no such user")
    ctx.clock.advance(timedelta(days=1))
    assert reminders.send_digests(ctx) > 0
    [line] = {line for m in outbox(engine, "digest") for line in m.payload["data"]["lines"]}
    assert line == f"Delivery problem: distribution (email) to {row.address} bounced after sending: 550 no such user " \
                   f"(jcbot outbox show {row.id})"
