"""The README, walked literally as a newcomer would (issue 15's 'done when').

The README marks the blocks a newcomer runs with `<!-- readme-walkthrough: NAME -->`: the
quick start, "Run a committee" and the local loop's replies. In a fresh copy of the
repository (its files as they are now, with their times, the checkout's .venv linked in so
nothing is installed from the network) this runs `make run` in the background, reads its
output for the addresses, runs every command of the other blocks as written in one shell,
and reads the decision on the public page over HTTP. Only the HTTP port is set, in the
environment, so as not to collide with another jcbot on this machine.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from support.ports import free_port

TOP = Path(__file__).resolve().parents[2]
# <!-- readme-walkthrough: NAME --> or <!-- readme-walkthrough: NAME (a note) -->, then a sh block.
MARKER = re.compile(r"<!-- readme-walkthrough: ([a-z]+(?: [a-z]+)*)(?: \([^)]*\))? -->\n```sh\n(.*?)```", re.S)
BLOCKS = ("quick start", "run a committee", "answer as a member")

pytestmark = pytest.mark.slow


def walkthrough(readme: str) -> dict[str, str]:
    """The marked shell blocks of the README, by name."""
    found = {}
    for m in MARKER.finditer(readme):
        name, body = m.group(1), m.group(2)
        assert name not in found, f"two README blocks marked {name!r}"
        found[name] = body
    return found


def commands(block: str) -> list[str]:
    """The commands of a block, comments and blank lines left out (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", block)
    return [line.split(" #")[0].strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def fresh_copy(target: Path) -> Path:
    """The repository's files (tracked, and new ones not ignored) copied with their times; .venv linked."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=TOP,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = TOP / rel
        if source.is_file() and not source.is_symlink():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    (target / ".venv").symlink_to(TOP / ".venv")
    return target


class Background:
    """`make run` in the background, its output collected line by line."""

    def __init__(self, command: str, cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, limit: float = 180) -> re.Match:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            for line in list(self.lines):
                if m := re.search(pattern, line):
                    return m
            if self.proc.poll() is not None and not any(re.search(pattern, x) for x in self.lines):
                break
            time.sleep(0.2)
        pytest.fail(f"make run never printed {pattern!r}:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> None:
        """Ctrl-C, as in the terminal: SIGINT to make and jcbot serve."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=30)


def test_the_readme_markers_name_exactly_the_walkthrough():
    blocks = walkthrough((TOP / "README.md").read_text(encoding="utf-8"))
    assert tuple(blocks) == BLOCKS
    assert commands(blocks["quick start"]) == ["make run", "make test"]
    assert any(c.startswith("jcbot proposal distribute") for c in commands(blocks["run a committee"]))
    assert all(c.startswith("jcbot ") for c in commands(blocks["answer as a member"]))


def test_the_readme_walkthrough_literally_ends_with_the_decision_on_the_public_page(tmp_path):
    blocks = walkthrough((TOP / "README.md").read_text(encoding="utf-8"))
    folder = fresh_copy(tmp_path / "jcbot")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")}
    env["JCBOT_HTTP_PORT"] = str(free_port())

    # The checkout's install is current (make test installed it), so make run starts at once.
    dry = subprocess.run(["make", "-n", "run"], cwd=folder, env=env, capture_output=True, text=True, check=True)
    assert "pip" not in dry.stdout, ("the .venv's install stamp is older than pyproject.toml: run `make install` "
                                     "in the checkout first\n" + dry.stdout)
    # `make test` is this suite itself: only checked to be a target make knows.
    assert subprocess.run(["make", "-n", "test"], cwd=folder, env=env, capture_output=True).returncode == 0

    [run, _test] = commands(blocks["quick start"])
    served = Background(run, folder, env)
    try:
        dashboard = served.wait_for(r"dashboard\s+(http://\S+/dashboard)").group(1)
        public = served.wait_for(r"public\s+(http://\S+?)/? ").group(1)
        served.wait_for(r"sign in\s+http://\S+/signin")
        assert dashboard == f"{public}/dashboard" and env["JCBOT_HTTP_PORT"] in public
        assert not any("pip install" in line for line in served.lines)

        script = "set -euo pipefail\n" + blocks["run a committee"] + blocks["answer as a member"]
        done = subprocess.run(["bash", "-c", script], cwd=folder, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
        assert re.search(r"distributed MN-P-\d{4}-001 version 1 to 4 members", done.stdout), done.stdout
        assert (folder / "storage" / "jcbot.sqlite").is_file()  # the fresh folder's own storage

        # jcbot serve reads the replies from the Maildir within seconds; the decision then appears.
        decisions: list = []
        end = time.monotonic() + 120
        while not decisions and time.monotonic() < end:
            answer = httpx.get(f"{public}/c/japan-mongolia/decisions.json", timeout=10)
            decisions = answer.json()["decisions"] if answer.status_code == 200 else []
            time.sleep(0.5)
        assert decisions, "no decision published:\n" + "\n".join(served.lines[-40:])
        [decision] = decisions
        page = httpx.get(f"{public}/c/japan-mongolia/decisions/{decision['number']}/", timeout=10)
        assert page.status_code == 200
        html = page.text
        assert "adopted" in html.lower() and "Approval of a methodology and a project" in html
        assert "MN_PM012.pdf" in html and "MN015-PDD.pdf" in html  # its public documents
        assert "MN_PM012-complete.pdf" not in html  # never the confidential one
        listed = httpx.get(f"{public}/c/japan-mongolia/", timeout=10).text
        assert decision["number"] in listed
    finally:
        served.stop()
    assert any("event=serve.stopped" in line for line in served.lines), "\n".join(served.lines[-40:])
