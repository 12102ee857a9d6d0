"""CLI start-up: `jcbot --help`, `jcbot simulate` and `jcbot pending` against `python -c pass`.

Each command runs as a fresh process (what a user or a script pays for every command), N
times, alternating with the baseline; the median wall time of each is compared with the
median of `python -c pass` by the same interpreter in the same run. `pending` reads a
temporary storage holding one committee with a distributed proposal, made by the CLI
before the timing starts. `python -c 'import sqlmodel'` is measured too: the database layer alone,
the floor of any command reading the database. Targets (issue 15): --help within 8x, simulate within 10x,
pending within 15x.
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TOP = Path(__file__).resolve().parents[1]
TIMELINE = TOP / "examples" / "timelines" / "tokyo-no-objection.yaml"
RULES = TOP / "examples" / "rules" / "tokyo.yaml"
TARGETS = {"--help": 8.0, "simulate": 10.0, "pending": 15.0}


@dataclass(frozen=True)
class StartupResult:
    runs: int
    baseline_s: float  # median wall time of `python -c pass`
    commands_s: dict[str, float]  # median wall time of each command, by label

    def ratio(self, label: str) -> float:
        return self.commands_s[label] / self.baseline_s


def _jcbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "jcbot", *args]


def _once(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[2:])} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def _prepare(storage: Path, env: dict[str, str]) -> None:
    """One committee with a member on each side, both co-chairs, one distributed proposal."""
    steps = [
        ("committee", "create", "japan-mongolia", "--rules", "japan-mongolia"),
        ("member", "add", "japan-mongolia", "tanaka", "-g", "japan", "--email", "tanaka@example.org"),
        ("member", "add", "japan-mongolia", "bat", "-g", "host", "--email", "bat@example.org"),
        ("cochair", "elect", "japan-mongolia", "japan", "tanaka"),
        ("cochair", "elect", "japan-mongolia", "host", "bat"),
    ]
    for step in steps:
        _once(_jcbot(*step), env, storage)
    drafted = subprocess.run(_jcbot("proposal", "draft", "japan-mongolia", "--title", "Bench", "--text", "Text.",
                                    "--item", "other:Bench"), env=env, cwd=storage, capture_output=True, text=True)
    ref = re.search(r"MN-P-\d{4}-\d{3}", drafted.stdout)
    if ref is None:
        raise RuntimeError(f"proposal draft: {drafted.stderr.strip()}")
    _once(_jcbot("proposal", "distribute", ref.group(0)), env, storage)


def measure(storage: Path, runs: int = 9) -> StartupResult:
    """Median wall times over `runs` alternating rounds; `storage` is an empty folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")}
    env["JCBOT_STORAGE_DIR"] = str(storage)
    _prepare(storage, env)
    commands = {
        "--help": _jcbot("--help"),
        "simulate": _jcbot("simulate", str(TIMELINE), "--rules", str(RULES)),
        "pending": _jcbot("pending"),
        # Not a command: the floor under any command that reads the database.
        "import sqlmodel": [sys.executable, "-c", "import sqlmodel"],
    }
    baseline = [sys.executable, "-c", "pass"]
    for argv in [baseline, *commands.values()]:  # warm the file cache and the bytecode
        _once(argv, env, storage)
    base: list[float] = []
    times: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        base.append(_once(baseline, env, storage))
        for label, argv in commands.items():
            times[label].append(_once(argv, env, storage))
    return StartupResult(runs, statistics.median(base),
                         {label: statistics.median(ts) for label, ts in times.items()})
