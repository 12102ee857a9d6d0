"""The idle RSS benchmark stays runnable: `jcbot serve` and the bare slack-bolt app, each read once."""
from __future__ import annotations

import pytest

from bench import rss

pytestmark = pytest.mark.slow


def test_the_rss_bench_reads_both_processes_idle_memory():
    r = rss.measure(idle_s=0.5)
    # Both are Python processes with a web stack loaded: tens of MiB, not a shell's few.
    assert 20 * 1024 < r.bare_kib < 200 * 1024 and 20 * 1024 < r.jcbot_kib < 400 * 1024
    assert r.ratio > 0
