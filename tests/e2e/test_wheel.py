"""A non-editable install finds its shipped rules files, templates and migrations anywhere."""
from __future__ import annotations

import os
import shutil
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
    # Built from a copy of the repository's files: setuptools builds in the source folder, and a
    # checkout's stale build/ would slip files deleted since into the wheel.
    source = out / "source"
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=TOP,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        if (TOP / rel).is_file():
            (source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(TOP / rel, source / rel)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(source)], check=True, capture_output=True)
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


def test_the_wheel_ships_every_rules_file_and_template_and_nothing_else_of_the_top_folder(installed):
    # pyproject.toml alone says it (there is no setup.py): jcbot._shipped is the top folder, of
    # which only rules/ and templates/ are taken, every file of them at every depth.
    assert not (TOP / "setup.py").exists()
    shipped = installed / "jcbot" / "_shipped"
    assert sorted(p.name for p in shipped.iterdir()) == ["rules", "templates"]
    for folder in ("rules", "templates"):
        here = {p.relative_to(TOP / folder) for p in (TOP / folder).rglob("*") if p.is_file()
                and "__pycache__" not in p.parts}
        there = {p.relative_to(shipped / folder) for p in (shipped / folder).rglob("*") if p.is_file()}
        assert here and here == there, folder
    assert (installed / "jcbot" / "store" / "migrations" / "script.py.mako").is_file()
    entry = next(installed.glob("jcbot-*.dist-info")) / "entry_points.txt"
    assert "jcbot = jcbot.cli:main" in entry.read_text(encoding="utf-8")


def test_the_installed_command_renders_with_the_shipped_templates(installed, tmp_path):
    # Templates from the wheel, not from a checkout: the public pages of a fresh database.
    created = _jcbot(installed, tmp_path, "committee", "create", "jm", "--rules", "japan-mongolia")
    assert created.returncode == 0, created.stderr
    published = _jcbot(installed, tmp_path, "publish", "--out", str(tmp_path / "site"))
    assert published.returncode == 0, published.stderr
    assert "Japan-Mongolia Joint Committee" in (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert (tmp_path / "site" / "static" / "site.css").is_file()
