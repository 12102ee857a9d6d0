"""Idle memory: the resident set of `jcbot serve` against a bare slack-bolt + uvicorn process.

`jcbot serve` runs with its defaults (SQLite, mail written as files, no Slack, no mail
intake) on a free port; once /healthz answers and a few seconds have passed, VmRSS is read
from /proc/PID/status. Then, reported beside it (not part of the ratio), the same process
once its first page (/) has loaded the pages and the API, read as long after. The baseline in the same run: the bare slack-bolt AsyncApp behind
uvicorn of bench/bare.py, started as its own process, idle for as long, read the same way.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench import bare


@dataclass(frozen=True)
class RssResult:
    jcbot_kib: int  # VmRSS of `jcbot serve`, idle
    bare_kib: int  # VmRSS of the bare slack-bolt + uvicorn process, idle
    idle_s: float
    jcbot_paged_kib: int = 0  # VmRSS of the same `jcbot serve` once its first page has been asked for

    @property
    def ratio(self) -> float:
        return self.jcbot_kib / self.bare_kib


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vmrss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def idle_rss(proc: subprocess.Popen, url: str, idle_s: float, timeout: float = 60) -> int:
    """Wait until `url` answers (any status), then `idle_s` seconds; the process's VmRSS in KiB."""
    end = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before answering {url}")
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > end:
                raise RuntimeError(f"{url} did not answer within {timeout}s") from None
            time.sleep(0.1)
    time.sleep(idle_s)
    return _vmrss_kib(proc.pid)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _jcbot(storage: Path, idle_s: float) -> tuple[int, int]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
        "JCBOT_STORAGE_DIR": str(storage), "JCBOT_SECRET": "bench-secret-0123456789",
        "JCBOT_HTTP_PORT": str(port), "JCBOT_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, "-m", "jcbot", "serve"], env=env, cwd=storage,
                            stdout=subprocess.DEVNULL, stderr=(storage / "serve.log").open("wb"))
    try:
        idle = idle_rss(proc, f"http://127.0.0.1:{port}/healthz", idle_s)
        page = httpx.get(f"http://127.0.0.1:{port}/", headers={"Accept": "text/html"}, timeout=60)
        page.raise_for_status()
        time.sleep(idle_s)
        return idle, _vmrss_kib(proc.pid)
    finally:
        _stop(proc)


def _bare(folder: Path, idle_s: float) -> int:
    port = _free_port()
    proc = bare.spawn(folder, port, "bench-signing-secret")
    try:
        return idle_rss(proc, f"http://127.0.0.1:{port}/slack/events", idle_s)
    finally:
        _stop(proc)


def measure(idle_s: float = 3.0) -> RssResult:
    """Start each process in turn, let it idle `idle_s` seconds after it answers, read its VmRSS."""
    with tempfile.TemporaryDirectory(prefix="jcbot-bench-rss-") as tmp:
        folder = Path(tmp)
        (folder / "jcbot").mkdir()
        jcbot_kib, paged_kib = _jcbot(folder / "jcbot", idle_s)
        bare_kib = _bare(folder, idle_s)
    return RssResult(jcbot_kib, bare_kib, idle_s, paged_kib)
