"""The dispatcher benchmark stays runnable: a fan-out, a drain, and its two raw baselines, against a real aiosmtpd."""
from __future__ import annotations

import pytest

from bench import dispatch

pytestmark = pytest.mark.slow


def test_the_dispatch_bench_measures_the_drain_against_raw_and_rendering_at_send_time(tmp_path):
    r = dispatch.measure(tmp_path, queued=40)  # raises unless every email reached the server each time
    assert r.queued == 40 and len(r.fanout_s) == dispatch.ROUNDS and all(s > 0 for s in r.fanout_s)
    assert r.drain_s > 0 and r.raw_drain_s > 0 and r.render_drain_s > 0
    assert r.throughput_ratio == pytest.approx(r.raw_drain_s / r.drain_s)
    assert r.render_ceiling == pytest.approx(r.raw_drain_s / r.render_drain_s)
    assert r.connections >= 1


def test_the_rendering_baseline_sends_what_the_dispatcher_sent(tmp_path):
    sent = []

    class Inbox(dispatch._Inbox):
        def reset(self):
            got = super().reset()
            sent.append(got)
            return got

    original = dispatch._Inbox
    dispatch._Inbox = Inbox
    try:
        dispatch.measure(tmp_path, queued=20)
    finally:
        dispatch._Inbox = original
    # The resets after the drain: what it delivered, then raw aiosmtplib's resend, then in turns the
    # rendering baseline's and raw's again.
    after = sent[-(2 + 2 * dispatch.BASELINE_ROUNDS):]
    drained, rendered = after[0], after[-2]
    assert len(drained) == len(rendered) == 20
    assert sorted((f, tuple(t)) for f, t, _ in drained) == sorted((f, tuple(t)) for f, t, _ in rendered)
    subjects = [sorted(m.split(b"\r\nSubject: ", 1)[1].split(b"\r\n", 1)[0] for _, _, m in batch)
                for batch in (drained, rendered)]
    assert subjects[0] == subjects[1]
