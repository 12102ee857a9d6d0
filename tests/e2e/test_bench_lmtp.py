"""The LMTP replies benchmark stays runnable: a few replies to jcbot's listener and to a bare aiosmtpd server."""
from __future__ import annotations

import pytest

from bench import lmtp

pytestmark = pytest.mark.slow


def test_the_lmtp_bench_counts_recorded_replies_against_a_bare_server(tmp_path):
    r = lmtp.measure(tmp_path, members=4, proposal_count=2, connections=2)  # raises unless all 8 are recorded
    assert r.replies == 8 and r.connections == 2
    assert r.jcbot_s > 0 and r.bare_s > 0 and 0 < r.ratio
    assert r.jcbot_cpu_s > 0 and r.bare_cpu_s > 0 and 0 < r.cpu_ratio
