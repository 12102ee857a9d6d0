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
    # Each server process's CPU during its acks, read from /proc (Linux).
    assert r.jcbot.cpu_s is not None and r.bare.cpu_s is not None and r.jcbot.cpu_s >= 0 and r.bare.cpu_s >= 0


def test_the_popup_bench_times_click_to_views_open_against_a_bare_bolt_app(tmp_path):
    r = slack.measure_popups(tmp_path, members=4, proposal_count=2)
    assert r.clicks == 8 and len(r.jcbot.delays_s) == len(r.bare.delays_s) == 8
    # Each pop-up opened after its click was sent (one clock: CLOCK_MONOTONIC in both processes).
    assert all(d > 0 for d in r.jcbot.delays_s + r.bare.delays_s)
    assert 0 < r.jcbot.p50_s <= r.jcbot.p99_s and 0 < r.bare.p50_s <= r.bare.p99_s and r.p99_ratio > 0
    assert len(r.floor.latencies_s) == 8 and 0 < r.floor.p50_s <= r.floor.p99_s
