"""The Slack clicks benchmark stays runnable: a few concurrent clicks to a real `jcbot serve` and to the bare app."""
from __future__ import annotations

import pytest

from bench import slack

pytestmark = pytest.mark.slow


def test_the_slack_bench_times_acks_and_recording_against_a_bare_bolt_app(tmp_path):
    r = slack.measure(tmp_path, members=4, proposal_count=2)
    assert r.clicks == 8 and len(r.jcbot.latencies_s) == len(r.bare.latencies_s) == 8
    assert 0 < r.jcbot.p50_s <= r.jcbot.p99_s <= r.jcbot.all_s and 0 < r.bare.p99_s <= r.bare.all_s
    assert 0 <= r.recorded_after_last_ack_s < 60 and r.p99_ratio > 0
