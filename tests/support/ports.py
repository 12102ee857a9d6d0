"""Free ports on 127.0.0.1 and readiness polling (never a bare sleep)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"
T = TypeVar("T")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    # Only for servers that cannot bind port 0 themselves and report it (PostgreSQL,
    # Dovecot). There is a small window before the server binds; callers retry.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def poll(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Call check() until it returns something truthy; raise TimeoutError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError as exc:  # refused/reset: not up yet. Other errors propagate at once.
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"{what} not ready after {timeout:.0f}s{detail}")
        time.sleep(interval)


def read_greeting(port: int, host: str = HOST, timeout: float = 1.0) -> bytes:
    """Connect to host:port and return the first line the server sends."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        return s.makefile("rb").readline()


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Terminate a process we started, killing it if it does not exit in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a log file, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"
