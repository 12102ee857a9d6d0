"""Replies delivered into a Maildir: handled by the LMTP listener's intake, moved to cur/ after the commit."""
from __future__ import annotations

import asyncio
import os
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from jcbot.channels.email import maildir
from jcbot.scheduler import Scheduler
from tests.integration.email.mailtest import PEOPLE, T0, reply

SATO = PEOPLE["sato"][2]


class Crash(BaseException):
    """The process dying: nothing catches it."""


@pytest.fixture
def box(jc):
    path = jc.ctx.settings.inbound_maildir_path
    assert path == jc.ctx.settings.storage_path / "maildir"  # the embedded default
    return maildir.ensure(path)


def _files(box, sub: str) -> list[str]:
    return sorted(p.name for p in (box / sub).iterdir())


def _deliver(box, jc, model: str = "iphone_agree.eml", **kw):
    if jc.clock.now() < T0 + timedelta(minutes=1):
        jc.clock.set(T0 + timedelta(minutes=1))
    path = maildir.deliver(box, reply(model, to=jc.reply_to("sato"), sender=SATO, **kw))
    when = (jc.clock.now() - timedelta(seconds=30)).timestamp()
    os.utime(path, (when, when))  # delivered 30 s ago, by the test's clock
    return path


@contextmanager
def failing_commits(exc: BaseException):
    """Every commit in the block raises `exc` before it happens: the transaction rolls back."""
    def before_commit(session):
        raise exc
    event.listen(Session, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(Session, "before_commit", before_commit)


def test_a_reply_in_new_is_recorded_dated_at_delivery_and_moved_to_cur(jc, box):
    jc.clock.set(T0 + timedelta(hours=1))
    path = _deliver(box, jc)
    assert maildir.poll_once(jc.ctx, box) == 1
    [a] = jc.assertions()
    assert (a.member, a.position, a.channel) == ("sato", "affirmative", "email")
    assert a.at == T0 + timedelta(hours=1) - timedelta(seconds=30)  # the file's delivery, not the poll
    assert _files(box, "new") == [] and _files(box, "cur") == [path.name + ":2,S"]
    assert len(jc.outbox("confirmation")) == 1
    assert maildir.poll_once(jc.ctx, box) == 0  # nothing left in new/


def test_a_refused_reply_is_moved_too(jc, box):
    path = _deliver(box, jc, "negative_without_opinion.eml")
    assert maildir.poll_once(jc.ctx, box) == 1
    assert jc.assertions() == []
    assert _files(box, "cur") == [path.name + ":2,S"]
    assert len(jc.outbox("refusal")) == 1  # the refusal is the answer


def test_a_crash_before_the_commit_leaves_it_in_new_and_it_is_recorded_once(jc, box):
    path = _deliver(box, jc)
    with failing_commits(Crash()), pytest.raises(Crash):
        maildir.poll_once(jc.ctx, box)
    assert jc.assertions() == [] and _files(box, "new") == [path.name]
    assert maildir.poll_once(jc.ctx, box) == 1  # the restarted process
    assert len(jc.assertions()) == 1 and _files(box, "cur") == [path.name + ":2,S"]


def test_a_crash_after_the_commit_before_the_move_records_once(jc, box, monkeypatch):
    path = _deliver(box, jc)

    def crash(*args):
        raise Crash()
    monkeypatch.setattr(maildir, "_move", crash)
    with pytest.raises(Crash):
        maildir.poll_once(jc.ctx, box)
    monkeypatch.undo()
    assert len(jc.assertions()) == 1 and _files(box, "new") == [path.name]
    assert maildir.poll_once(jc.ctx, box) == 1  # handled again: a duplicate, moved
    assert len(jc.assertions()) == 1 and _files(box, "cur") == [path.name + ":2,S"]
    assert len(jc.outbox("confirmation")) == 1


def test_a_transient_error_leaves_it_in_new_for_the_next_look(jc, box):
    path = _deliver(box, jc)
    with failing_commits(OperationalError("COMMIT", {}, Exception("database is locked"))):
        assert maildir.poll_once(jc.ctx, box) == 0
    assert jc.assertions() == [] and _files(box, "new") == [path.name]
    assert maildir.poll_once(jc.ctx, box) == 1
    assert len(jc.assertions()) == 1


def test_a_failure_that_would_repeat_is_moved_aside_flagged(jc, box):
    path = _deliver(box, jc)
    with failing_commits(RuntimeError("a bug")):
        assert maildir.poll_once(jc.ctx, box) == 0
    assert _files(box, "new") == [] and _files(box, "cur") == [path.name + ":2,F"]


def test_deliver_writes_through_tmp_and_leaves_nothing_there(tmp_path):
    path = maildir.deliver(tmp_path / "md", b"Subject: x\n\nbody\n")
    assert path.parent == tmp_path / "md" / "new" and path.read_bytes() == b"Subject: x\n\nbody\n"
    assert list((tmp_path / "md" / "tmp").iterdir()) == []
    assert ":" not in path.name and "/" not in path.name


class _NoDispatcher:
    async def drain(self) -> int:
        return 0

    def stop(self) -> None:
        pass

    def release(self) -> None:
        pass


def test_serve_s_scheduler_looks_into_the_maildir_every_few_seconds(jc, box):
    path = _deliver(box, jc)

    async def main():
        async def poll() -> int:
            return await jc.ctx.run(maildir.poll_once, jc.ctx, box)
        scheduler = Scheduler(jc.ctx, _NoDispatcher(), poll_maildir=poll)
        scheduler.start(lead=False)  # a follower too: every process looks into its Maildir
        try:
            for _ in range(100):
                if not (box / "new" / path.name).exists():
                    break
                await asyncio.sleep(0.05)
        finally:
            await scheduler.shutdown()
    asyncio.run(main())
    assert jc.ctx.settings.inbound_maildir_interval == 2
    assert len(jc.assertions()) == 1 and _files(box, "cur") == [path.name + ":2,S"]
