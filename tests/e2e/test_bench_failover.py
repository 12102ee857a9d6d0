"""The fail-over benchmark stays runnable: one round with two replicas on the suite's PostgreSQL."""
from __future__ import annotations

import pytest

from bench import failover

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_failover_bench_measures_a_new_leader_and_its_first_sweep(tmp_path, postgres_server):
    url = postgres_server.url(postgres_server.create_database())
    r = failover.measure(url, tmp_path, rounds=1, replicas=2)
    assert len(r.to_leader_s) == len(r.to_adoption_s) == len(r.raw_s) == 1
    # Followers try every second: a new leader within a few, its first sweep right after.
    assert 0 < r.to_leader_s[0] < 5 and r.to_leader_s[0] <= r.to_adoption_s[0] + 0.1 < 6, r
    assert 0 < r.raw_s[0] < r.to_adoption_s[0]
