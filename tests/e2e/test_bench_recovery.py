"""The recovery benchmark stays runnable: a small run through a real `jcbot serve`, killed once."""
from __future__ import annotations

import math

import pytest

from bench import recovery

pytestmark = pytest.mark.slow


def test_the_recovery_bench_measures_restart_to_drained_against_a_clean_run():
    r = recovery.measure(60, takeover=False)
    assert r.messages == 60 and 0 < r.remaining <= 40  # half at the server, a batch unmarked
    # Taken back at once: well inside the 30 s lease a lapse would cost.
    assert 0 < r.recovery_s < 25 and 0 < r.clean_s < 60 and r.raw_s > 0
    assert math.isnan(r.takeover_s)
    assert 0 <= r.repeats <= 10  # at most one batch was in flight at the kill
