"""`make run` installs only when the packaging changed: a stamp in .venv, newer than pyproject.toml.

The Makefile is run for real in a scratch folder whose .venv holds stand-ins for pip and
jcbot that only log their calls, so nothing is installed and nothing is downloaded.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path):
    shutil.copy(TOP / "Makefile", tmp_path / "Makefile")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'stand-in'\n", encoding="utf-8")
    bin_ = tmp_path / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for name in ("python", "pip", "jcbot"):
        (bin_ / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls.log"\n', encoding="utf-8")
        (bin_ / name).chmod(0o755)
    return tmp_path


def make(folder: Path, *args: str) -> str:
    done = subprocess.run(["make", *args], cwd=folder, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def test_a_second_make_run_does_not_install_again(folder):
    assert "pip install" in make(folder, "-n", "run")  # never installed: it would install
    make(folder, "run")
    assert calls(folder) == ["pip install -q -e .", "jcbot serve"]
    assert (folder / ".venv" / ".installed").is_file()

    assert "pip" not in make(folder, "-n", "run")
    make(folder, "run")
    assert calls(folder) == ["jcbot serve"]  # started at once, no install


def test_a_changed_pyproject_installs_again(folder):
    make(folder, "run")
    calls(folder)
    stamp = (folder / ".venv" / ".installed").stat().st_mtime
    os.utime(folder / "pyproject.toml", (stamp + 10, stamp + 10))  # edited after the last install
    make(folder, "run")
    assert calls(folder) == ["pip install -q -e .", "jcbot serve"]


def test_the_test_install_also_counts_for_run(folder):
    make(folder, "-o", "tests/e2e/axe/node_modules/axe-core/axe.min.js", "install-test")
    assert calls(folder) == ["pip install -q -e .[test]"]
    make(folder, "run")
    assert calls(folder) == ["jcbot serve"]
