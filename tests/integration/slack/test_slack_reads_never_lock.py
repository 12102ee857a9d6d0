"""Slack's identity lookup and `/jc pending` answer while a writer holds SQLite's write lock.

Every click and command starts by finding who the Slack user is (`identify`): a read,
which never queues behind a writer; only linking a member found by email writes.
"""
from __future__ import annotations

import asyncio
import time

from jcbot.services.slack_identity import identify
from support.write_lock import write_lock_held

from .helpers import SLACK, all_text
from .test_slack_views import ask

PROMPT = 5.0  # seconds; far below the 30-second busy timeout a queued read would wait


async def test_identity_and_pending_answer_while_a_writer_holds_the_lock(ctx, ref, fake_slack, slack_http):
    with write_lock_held(ctx.engine):
        started = time.monotonic()
        who = identify(ctx, SLACK["bat"])
        assert [(s.handle, s.role) for s in who.seats] == [("bat", "cochair")]
        body = await asyncio.wait_for(ask(slack_http, fake_slack, SLACK["bat"], "pending", 1), PROMPT)
        assert f"*{ref}* v1" in all_text(body["blocks"])
        assert time.monotonic() - started < PROMPT


def test_identify_writes_only_to_link_a_member_found_by_email(ctx, ref):
    # dorj has no Slack user id yet: the email Slack reports links them (a write, once).
    found = identify(ctx, "U0DORJ", "dorj@mne.gov.mn")
    assert [s.handle for s in found.seats] == ["dorj"]
    with write_lock_held(ctx.engine):
        # Linked now: the next lookup, even with the email, reads only.
        again = identify(ctx, "U0DORJ", "dorj@mne.gov.mn")
        assert [s.handle for s in again.seats] == ["dorj"]
        assert identify(ctx, "U0NOBODY", "nobody@example.org").known is False
