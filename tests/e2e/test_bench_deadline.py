"""The deadline benchmark stays runnable: a small run through a real `jcbot serve`."""
from __future__ import annotations

import math

import pytest

from bench import deadline

pytestmark = pytest.mark.slow


def test_the_deadline_bench_measures_adoption_and_first_notice(tmp_path, capsys):
    r = deadline.measure(tmp_path, open_total=12, due=3, lead_s=12)
    assert len(r.adoption_s) == 3
    # Adopted at or after the deadline (never before), and within the alarm's reach.
    assert all(0 <= s < 30 for s in r.adoption_s), r.adoption_s
    assert not math.isnan(r.first_notice_s) and 0 <= r.first_notice_s < 30
    assert r.raw_update_s > 0 and r.raw_smtp_s > 0
