"""The LMTP benchmark's client, a process of its own (`python -m bench.lmtp_client HOST PORT CONNECTIONS FILE`).

As an MTA is: in the server's process its threads would share the server's interpreter
lock, and wait for it while a CPU-bound thread of the server (jcbot's intake) holds it,
which no real MTA does. FILE holds the messages (a pickled list of (sender, to, raw)).
It opens the connections and greets the server, prints "ready", waits for a line on
stdin, sends every message (one after another on each connection, all connections at
once) and prints one JSON line: the seconds from that line to the last answer, and the
CPU time of its sending threads. Only the standard library: it starts in a moment.
"""
from __future__ import annotations

import json
import pickle
import smtplib
import sys
import threading
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    host, port, connections, path = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    messages: list[tuple[str, str, bytes]] = pickle.loads(path.read_bytes())
    shares = [messages[i::connections] for i in range(connections)]
    ready, go = threading.Barrier(connections + 1), threading.Barrier(connections + 1)
    failures: list[str] = []
    cpu: list[float] = []

    def run(share: list[tuple[str, str, bytes]]) -> None:
        try:
            with smtplib.LMTP(host, port, timeout=120) as client:
                client.ehlo()
                ready.wait(60)
                go.wait(600)
                started = time.thread_time()
                for sender, to, raw in share:
                    client.sendmail(sender, [to], raw)
                cpu.append(time.thread_time() - started)
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            ready.abort()
            go.abort()
            failures.append(repr(exc))

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for t in threads:
        t.start()
    try:
        ready.wait(60)
    except threading.BrokenBarrierError:
        pass
    print("ready", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    try:
        go.wait(60)
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    print(json.dumps({"seconds": time.perf_counter() - start, "cpu_s": sum(cpu), "failures": failures}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
