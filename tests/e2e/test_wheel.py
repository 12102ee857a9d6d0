"""A non-editable install finds its shipped rules files, templates and migrations anywhere."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(TOP)],
                   check=True, capture_output=True)
    [wheel] = out.glob("jcbot-*.whl")
    target = out / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    return target


def _jcbot(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")} | {
        "PYTHONPATH": str(target), "JCBOT_STORAGE_DIR": str(cwd / "storage")}
    return subprocess.run([sys.executable, "-m", "jcbot", *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_wheel_carries_rules_templates_and_migrations(installed):
    shipped = installed / "jcbot" / "_shipped"
    assert (shipped / "rules" / "default.yaml").is_file() and (shipped / "rules" / "japan-mongolia.yaml").is_file()
    for template in ("email/distribution.txt", "email/distribution.html", "site/static/site.css", "dashboard/act.html"):
        assert (shipped / "templates" / template).is_file(), template
    assert sorted(p.name for p in (installed / "jcbot" / "store" / "migrations" / "versions").glob("0*.py"))[0].startswith("0001")


def test_the_installed_command_works_from_another_directory(installed, tmp_path):
    check = _jcbot(installed, tmp_path, "rules", "check", "japan-mongolia")
    assert check.returncode == 0, check.stderr
    assert str(installed) in check.stdout and "Asia/Ulaanbaatar" in check.stdout
    created = _jcbot(installed, tmp_path, "committee", "create", "jm", "--rules", "japan-mongolia")
    assert created.returncode == 0, created.stderr  # migrations ran from the wheel
    assert (tmp_path / "storage" / "jcbot.sqlite").is_file()
