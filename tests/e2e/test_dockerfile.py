"""The Dockerfile: `jcbot serve` as a non-root user, storage in a volume, a health check on /healthz.

Its statements are checked here on every run (no container tool is needed): the user, the
volume holding JCBOT_STORAGE_DIR, the health check (run for real against a local /healthz
answering 200, then 503), the entrypoint, and every file it copies present in the
repository and not kept out of the build context by .dockerignore.

The image itself is built (podman or buildah, chroot isolation) when JCBOT_TEST_IMAGE_BASE
names a Python 3.11+ base image already on this machine: the build installs jcbot's wheel
with pip, which downloads from PyPI, so it is never done unasked. README, "Deployment",
says where it was built and what could not be run here.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from jcbot.settings import SETTINGS

TOP = Path(__file__).resolve().parents[2]


def statements(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments left out."""
    out, pending = [], ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        whole = (pending + line).strip()
        pending = ""
        word, _, rest = whole.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def final_stage(parsed: list[tuple[str, str]]) -> list[tuple[str, str]]:
    last = max(i for i, (word, _) in enumerate(parsed) if word == "FROM")
    return parsed[last:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env = {}
    for word, rest in stage:
        if word == "ENV":
            env.update(part.split("=", 1) for part in shlex.split(rest))
    return env


@pytest.fixture(scope="module")
def stage() -> list[tuple[str, str]]:
    return final_stage(statements((TOP / "Dockerfile").read_text(encoding="utf-8")))


def only(stage, word: str) -> str:
    found = [rest for w, rest in stage if w == word]
    assert len(found) == 1, f"{word}: {found}"
    return found[0]


def test_serve_runs_as_a_user_of_its_own(stage):
    user = only(stage, "USER").split(":")[0]
    assert user not in ("root", "0", "")
    run = " ".join(rest for w, rest in stage if w == "RUN")
    assert re.search(rf"useradd [^&]*\b{user}\b", run), run  # the image makes that user
    assert json.loads(only(stage, "ENTRYPOINT")) == ["jcbot"] and json.loads(only(stage, "CMD")) == ["serve"]
    # Everything after USER runs as that user: nothing after it changes to root again.
    words = [w for w, _ in stage]
    assert words.index("USER") < words.index("ENTRYPOINT")


def test_the_storage_is_a_volume_the_user_owns(stage):
    env = env_of(stage)
    volumes = json.loads(only(stage, "VOLUME"))
    assert env["JCBOT_STORAGE_DIR"] in volumes
    run = " ".join(rest for w, rest in stage if w == "RUN")
    assert f"chown {only(stage, 'USER')}:" in run and env["JCBOT_STORAGE_DIR"] in run.split("chown", 1)[1]
    # Reachable from outside the container, on the port it exposes; only settings jcbot knows.
    assert env["JCBOT_HTTP_HOST"] == "0.0.0.0" and only(stage, "EXPOSE") == env["JCBOT_HTTP_PORT"]
    known = {s.name for s in SETTINGS}
    assert {k for k in env if k.startswith("JCBOT_")} <= known


def test_every_copied_file_is_in_the_repository_and_the_build_context():
    parsed = statements((TOP / "Dockerfile").read_text(encoding="utf-8"))
    ignored = {line.strip() for line in (TOP / ".dockerignore").read_text(encoding="utf-8").splitlines()
               if line.strip() and not line.startswith("#")}
    copied = []
    for word, rest in parsed:
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _dest = shlex.split(rest)
            copied += sources
    assert {"pyproject.toml", "jcbot", "rules", "templates"} <= set(copied)
    for source in copied:
        assert (TOP / source).exists(), source
        assert source.split("/")[0] not in ignored, source
        tracked = subprocess.run(["git", "ls-files", "--", source], cwd=TOP, capture_output=True, text=True).stdout
        assert tracked.strip(), f"{source} is not in the repository"
    assert ".venv" in ignored and "storage" in ignored  # never sent to the builder


class Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802
        code = self.status if self.path == "/healthz" else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args):
        pass


def test_the_health_check_asks_healthz_with_python_alone(stage):
    check = only(stage, "HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    argv = json.loads(command)
    assert argv[0] == "python" and "/healthz" in argv[-1] and "urllib" in argv[-1]
    assert "curl" not in check and "wget" not in check  # the slim image has neither
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")}
    env["JCBOT_HTTP_PORT"] = str(server.server_address[1])
    try:
        healthy = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
        assert healthy.returncode == 0, healthy.stderr
        Health.status = 503
        sick = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
        assert sick.returncode != 0
    finally:
        Health.status = 200
        server.shutdown()


@pytest.mark.slow
@pytest.mark.image
def test_the_image_builds():
    # Selected only when JCBOT_TEST_IMAGE_BASE is set (tests/conftest.py): its pip install downloads from PyPI.
    base = os.environ["JCBOT_TEST_IMAGE_BASE"]
    tool = shutil.which("podman") or shutil.which("buildah")
    assert tool, "JCBOT_TEST_IMAGE_BASE is set but neither podman nor buildah is installed"
    tag = "localhost/jcbot-dockerfile-test:latest"
    verb = ["build"] if tool.endswith("podman") else ["bud"]
    built = subprocess.run([tool, *verb, "--isolation", "chroot", "--format", "docker", "--network", "host",
                            "--build-arg", f"PYTHON_IMAGE={base}", "-t", tag, "-f", "Dockerfile", "."],
                           cwd=TOP, capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    try:
        [info] = json.loads(subprocess.run([tool, "inspect", tag], capture_output=True, text=True, check=True).stdout)
        config = info.get("Config") or info.get("config") or {}
        assert config["User"] == "jcbot"
        assert "/data" in config["Volumes"] and "JCBOT_STORAGE_DIR=/data" in config["Env"]
        assert config["Entrypoint"] == ["jcbot"] and config["Cmd"] == ["serve"]
        health = info.get("Healthcheck") or config.get("Healthcheck") or {}  # podman inspect, docker inspect
        assert "/healthz" in " ".join(health.get("Test", []))
    finally:
        subprocess.run([tool, "rmi", "-f", tag], capture_output=True)
