"""What an idle `jcbot serve` holds in memory: libraries only some deployments use are imported on first use.

aiohttp (about 9 MiB resident) serves only registries with an endpoint; dkimpy and
dnspython (about 3 MiB) only DKIM signing or checking. Alembic runs in a child process
(about 12 MiB with the migrations); the pages and the API (about 15 MiB) load on their
first request, the mail composition and the Maildir intake (about 6 MiB) on the first
message. The figures are `python -m bench --only rss`'s (README); this checks the
imports, in a fresh process.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, sys
import jcbot.cli.serve, jcbot.channels.http, jcbot.channels.email.smtp, jcbot.channels.email.files
import jcbot.channels.email.inbound, jcbot.channels.email.lmtp, jcbot.channels.email.maildir, jcbot.web.app
print(json.dumps(sorted(sys.modules)))
"""


def test_the_mail_senders_listeners_and_http_app_import_neither_aiohttp_nor_dkim():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert "jcbot.channels.http" in modules and "jcbot.channels.email.signing" in modules
    assert not {m for m in modules if m.split(".")[0] in ("aiohttp", "dkim", "dns")}


# A real `jcbot serve` (run(), defaults, a new SQLite database) in a fresh process: the modules
# it holds once /healthz has answered, then after the first page.
IDLE_PROBE = """
import asyncio, gc, json, os, sys
from pathlib import Path

from jcbot.cli.serve import run
from jcbot.settings import load_settings

storage, port = sys.argv[1], int(sys.argv[2])
settings = load_settings(env={"JCBOT_STORAGE_DIR": storage, "JCBOT_SECRET": "probe-secret-0123456789",
                              "JCBOT_HTTP_PORT": str(port), "JCBOT_LOG_LEVEL": "WARNING"}, dotenv=None)


async def get(path):
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            break
        except OSError:
            await asyncio.sleep(0.1)
    writer.write(f"GET {path} HTTP/1.1\\r\\nHost: probe\\r\\nAccept: text/html\\r\\nConnection: close\\r\\n\\r\\n".encode())
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return int(answer.split()[1])


async def main():
    stop = asyncio.Event()
    out = {}

    async def probe():
        out["healthz"] = await get("/healthz")
        await asyncio.sleep(0.5)
        out["idle"] = sorted(sys.modules)
        out["frozen"] = gc.get_freeze_count()
        out["page"] = await get("/")
        out["after"] = sorted(sys.modules)
        out["frozen_after"] = gc.get_freeze_count()
        stop.set()

    task = asyncio.create_task(probe())
    await run(settings, stop)
    await task
    print(json.dumps(out))


asyncio.run(main())
"""

# What an idle serve does without: the migration tooling (a child process runs it), the pages
# and API (FastAPI, Jinja, the routers), the mail composition and SMTP client, the Maildir intake,
# and on SQLite, PostgreSQL's dialect and driver.
LAZY = ("sqlalchemy.dialects.postgresql", "psycopg", "alembic", "mako", "fastapi", "jinja2", "aiosmtplib", "jcbot.web.app", "jcbot.web.errors", "jcbot.web.site",
        "jcbot.web.dashboard", "jcbot.web.api", "jcbot.web.public_cases", "jcbot.web.documents", "jcbot.publish.render",
        "jcbot.channels.email.compose", "jcbot.channels.email.smtp", "jcbot.channels.email.maildir",
        "jcbot.channels.email.inbound")


def _loaded(modules: list[str], name: str) -> bool:
    return any(m == name or m.startswith(name + ".") for m in modules)


def test_an_idle_serve_has_not_imported_the_pages_the_migrations_or_the_mail_composition(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("JCBOT_")}
    done = subprocess.run([sys.executable, "-c", IDLE_PROBE, str(tmp_path), str(port)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["healthz"] == 200
    assert "jcbot.web.front" in out["idle"] and "jcbot.scheduler" in out["idle"]
    assert [m for m in LAZY if _loaded(out["idle"], m)] == []
    # The default Maildir's folders are made at start by the light module, not the intake.
    assert "jcbot.channels.email.maildir_folders" in out["idle"]
    assert all((tmp_path / "maildir" / sub).is_dir() for sub in ("new", "cur", "tmp"))
    # The first page loads the full app, and answers.
    assert out["page"] == 200
    assert _loaded(out["after"], "fastapi") and "jcbot.web.site" in out["after"] and "jcbot.web.dashboard" in out["after"]
    assert not _loaded(out["after"], "alembic")
    # What start-up made is out of the garbage collector's full collections, and so is the full app once made.
    assert 0 < out["frozen"] < out["frozen_after"]
    # The child process brought the new database to the newest schema.
    from jcbot.store.db import at_head, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'jcbot.sqlite'}")
    try:
        assert at_head(engine)
    finally:
        engine.dispose()
