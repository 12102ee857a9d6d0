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
    for split, cpu in ((r.jcbot_split, r.jcbot_cpu_s), (r.bare_split, r.bare_cpu_s)):
        # The server's event loop and the client process's threads each did some of the work, read in their own threads.
        assert split is not None and split.loop_s > 0 and split.client_s > 0 and split.rest_s >= 0
        assert split.loop_s <= cpu * 1.05 + 0.01 and split.rest_s <= cpu  # parts of the server's CPU, not more
    # jcbot's database threads parsed, read and recorded each reply: not nothing.
    assert r.jcbot_split.rest_s > 0


def test_a_client_that_cannot_connect_is_reported_not_waited_for(tmp_path):
    import asyncio
    import socket
    import threading

    # A connection refused: the client still says it is ready, then reports the failure; deliver raises.
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        with pytest.raises(RuntimeError, match="the LMTP client failed"):
            lmtp.deliver("127.0.0.1", port, [("a@b.example", "c@d.example", b"x\r\n")], 1, loop, tmp_path)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        loop.close()
