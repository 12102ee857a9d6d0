"""The last affirmatives of a proposal arriving over LMTP at the same moment adopt it, every time.

Issue 10: when the last two replies were delivered at once (as a mail server does, over
separate LMTP connections), the transaction that waited for the proposal's lock judged at
the instant it read before waiting, did not see the affirmative the other had just
recorded, and the unanimous adoption went unrecorded.

Every round distributes a fresh proposal through jcbot's EmailRenderer; the first members
affirm one after the other; the last N answer with replies written to the Reply-To of the
distribution email each of them received, delivered to jcbot's real LMTP listener over N
connections that send DATA together. What makes the race likely on every round instead of now and then, without
replacing anything in jcbot (tests/support/at_once.py): the clock moves on every read and
pauses up to JITTER after a read while the last replies are handled, as a descheduled
thread does; on PostgreSQL the N deliveries queue behind the proposal's row lock, held by
a side connection, and are let go together.
"""
from __future__ import annotations

import smtplib
import threading
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlmodel import select

from jcbot.app import build_context
from jcbot.channels.email.compose import EmailRenderer
from jcbot.channels.email.lmtp import start_listener
from jcbot.services.assertions import record_assertion
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Decision, Proposal, ProposalVersion
from jcbot.store.outbox import OutboxMessage
from support.at_once import TickingClock, queued_behind_proposal_lock
from tests.integration.email.mailtest import T0, as_sent, create_committee, distribute, make_settings, parsed, reply

pytestmark = pytest.mark.slow

ROUNDS = 5
JITTER = 0.02  # seconds: the longest pause after a read of the clock while the last replies arrive
# handle -> (government, name, email, time zone); tanaka and bold are the co-chairs.
PEOPLE = {
    "tanaka": ("japan", "Tanaka Ichiro", "tanaka@mofa.example.go.jp", "Asia/Tokyo"),
    "bold": ("host", "Tsetseg Bold", "t.bold@mof.example.gov.mn", "Asia/Ulaanbaatar"),
    "sato": ("japan", "Hanako Sato", "hanako.sato.jc@gmail.com", "Europe/Berlin"),
    "dorj": ("host", "Dorj Bat", "dorj@mne.example.gov.mn", None),
    "suzuki": ("japan", "Jiro Suzuki", "suzuki@env.example.go.jp", "Asia/Tokyo"),
    "bat": ("host", "Bat-Erdene Ganbold", "ganbold@mne.example.gov.mn", "Asia/Ulaanbaatar"),
}
EMAIL = {handle: person[2] for handle, person in PEOPLE.items()}


@pytest.fixture
def mail(tmp_path, db_url):
    """A committee of six members who all read email, on a clock that moves on every read."""
    clock = TickingClock(T0 - timedelta(days=1))
    settings = make_settings(tmp_path, db_url)
    ctx = build_context(settings, clock)  # type: ignore[arg-type]
    ctx.renderers = [EmailRenderer(settings, strict=True)]
    create_committee(ctx, clock, people=PEOPLE)  # type: ignore[arg-type]
    listener = start_listener(ctx, host="127.0.0.1", port=0, protocol="lmtp")
    yield ctx, listener
    listener.stop()
    ctx.engine.dispose()


def outbox(ctx, proposal_id: int, kind: str) -> list[OutboxMessage]:
    """The outbox rows of one kind about one proposal, oldest first."""
    with session_scope(ctx.engine) as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.proposal_id == proposal_id,
                                                       OutboxMessage.kind == kind).order_by(OutboxMessage.id)))
        for row in rows:
            s.expunge(row)
        return as_sent(ctx, rows)


def replies_to_distribution(ctx, proposal_id: int, round_: int) -> dict[str, tuple[str, bytes]]:
    """For each member, the reply address of the distribution email they got, and an "Agree" to it."""
    out = {}
    for row in outbox(ctx, proposal_id, "distribution"):
        msg: EmailMessage = parsed(row)
        handle = next(h for h, e in EMAIL.items() if e == row.recipient)
        to = msg["Reply-To"].addresses[0].addr_spec
        raw = reply("gmail_yes.eml", to=to, sender=row.recipient, in_reply_to=msg["Message-ID"].strip(),
                    message_id=f"<agree-{round_}-{handle}@mail.example.org>")
        out[handle] = (to, raw)
    assert sorted(out) == sorted(PEOPLE), "every member got the distribution email"
    return out


def deliver_at_once(ctx, listener, ref: str, replies: list[tuple[str, str, bytes]]) -> list[object]:
    """Deliver each (sender, to, raw) on its own LMTP connection, DATA sent together; the answers."""
    answers: list[object] = [None] * len(replies)
    barrier = threading.Barrier(len(replies) + 1)

    def run(i: int, sender: str, to: str, raw: bytes) -> None:
        try:
            with smtplib.LMTP(listener.hostname, listener.port, timeout=60) as client:
                client.ehlo()
                client.mail(sender)
                client.rcpt(to)
                barrier.wait(30)
                answers[i] = client.data(raw)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            barrier.abort()
            answers[i] = exc

    threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(replies)]
    with queued_behind_proposal_lock(ctx.engine, ref) as queued:
        for t in threads:
            t.start()
        try:
            barrier.wait(30)  # every connection is at DATA
            queued(len(replies))
        except threading.BrokenBarrierError:
            pass  # a connection failed: its answer says why
    for t in threads:
        t.join(60)
    return answers


def round_problems(ctx, pid: int, vid: int) -> list[str]:
    """What is wrong with a round once every member affirmed (nothing, if all is as it must be)."""
    with session_scope(ctx.engine) as s:
        p, v = s.get(Proposal, pid), s.get(ProposalVersion, vid)
        records = list(s.exec(select(AssertionRecord).where(AssertionRecord.version_id == vid)))
        decisions = [(d.basis, d.adopted_at) for d in s.exec(select(Decision).where(Decision.version_id == vid))]
        state = (p.status, v.status, v.basis, v.adopted_at)
    recorded = sorted((a.member, a.position, a.channel) for a in records)
    if recorded != sorted((h, "affirmative", "email") for h in PEOPLE):
        return [f"recorded {recorded}"]
    completing = max(a.at for a in records)
    problems = []
    # Adopted by the completing reply, at its instant: not left open for a later sweep.
    if state != ("adopted", "adopted", "unanimous", completing):
        problems.append(f"(proposal, version, basis, adopted_at) = {state}, the completing reply at {completing}")
    if decisions != [("unanimous", completing)]:
        problems.append(f"decisions {decisions}")
    # Notices once: the adoption to every member, a confirmation for every reply.
    adoption = sorted(m.recipient for m in outbox(ctx, pid, "adoption"))
    if adoption != sorted(EMAIL.values()):
        problems.append(f"adoption notices to {adoption}")
    confirmations = sorted(m.recipient for m in outbox(ctx, pid, "confirmation"))
    if confirmations != sorted(EMAIL.values()):
        problems.append(f"confirmations to {confirmations}")
    return problems


@pytest.mark.parametrize("last", [2, 5], ids=["last-two", "last-five"])
def test_the_last_replies_delivered_at_once_adopt_every_time(mail, last):
    ctx, listener = mail
    handles = list(PEOPLE)
    failed = {}
    for n in range(ROUNDS):
        ctx.clock.set(T0 + timedelta(hours=n))
        ref, pid, vid = distribute(ctx, title=f"Round {n}: approval of the methodology MN_AM00{n}")
        replies = replies_to_distribution(ctx, pid, n)
        for h in handles[:-last]:  # the first affirmatives, one after the other
            record_assertion(ctx, ref, h, "affirmative", channel="email", evidence_key=f"<first-{n}-{h}@example.org>",
                             actor=f"email:{EMAIL[h]}")
        ctx.clock.jitter = JITTER
        answers = deliver_at_once(ctx, listener, ref, [(EMAIL[h], *replies[h]) for h in handles[-last:]])
        ctx.clock.jitter = 0.0
        assert answers == [(250, b"2.0.0 recorded")] * last, f"round {n}"
        if problems := round_problems(ctx, pid, vid):
            failed[n] = problems
    assert failed == {}, f"{len(failed)} of {ROUNDS} rounds went wrong"
