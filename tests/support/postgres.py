"""A throwaway PostgreSQL cluster for the session, and the `db_url` fixture over SQLite and PostgreSQL."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL, make_url

from . import service_missing
from .ports import HOST, free_port, tail

EXTERNAL_URL_VAR = "JCBOT_TEST_POSTGRES_URL"
PG_USER = "postgres"


def find_pg_bindir() -> Path | None:
    """Return the newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, else one on PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


class PostgresServer:
    """A PostgreSQL server reachable over TCP, with helpers for fresh databases."""

    def __init__(self, base: URL, owned: bool) -> None:
        self._base = base
        self.owned = owned  # False: an external server from JCBOT_TEST_POSTGRES_URL
        self.created: list[str] = []

    @property
    def host(self) -> str:
        return self._base.host or HOST

    @property
    def port(self) -> int:
        return self._base.port or 5432

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL of dbname on this server (postgresql+psycopg://...)."""
        return self._base.set(drivername="postgresql+psycopg", database=dbname).render_as_string(
            hide_password=False)

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq URL of dbname, for psycopg.connect()."""
        return self._base.set(drivername="postgresql", database=dbname).render_as_string(
            hide_password=False)

    def create_database(self, prefix: str = "jcbot_test") -> str:
        """Create a fresh, uniquely named database and return its name."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        # CREATE DATABASE cannot run inside a transaction block, hence autocommit.
        with psycopg.connect(self.dsn(self._base.database or "postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return name

    def drop_created(self) -> None:
        """Drop the databases this session created (used on external servers)."""
        import psycopg

        with psycopg.connect(self.dsn(self._base.database or "postgres"), autocommit=True) as conn:
            for name in self.created:
                # FORCE: a test that leaked a connection must not leave its database behind.
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


class _Cluster:
    """initdb + pg_ctl on a temp dir; runs as the `postgres` user when we are root."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
        # Not pytest's tmp_path: it lives under a 0700 directory of root that the
        # postgres user could not traverse.
        self.dir = Path(tempfile.mkdtemp(prefix="jcbot-pg-"))
        self.data = self.dir / "data"
        self.log = self.dir / "server.log"
        self.port = 0
        if self.as_postgres:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", PG_USER, "--", *cmd]
        # Output to a file, not a pipe: the postmaster forked by pg_ctl must not hold our pipe open.
        with open(self.dir / "commands.log", "ab") as out:
            return subprocess.run(cmd, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)

    def start(self) -> None:
        init = self._run("initdb", "-D", str(self.data), "-U", PG_USER, "--auth=trust",
                         "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{tail(self.dir / 'commands.log')}")
        # The probed port may be taken by the time the postmaster binds it: try again.
        for _attempt in range(3):
            self.port = free_port()
            options = " ".join([
                f"-p {self.port}", f"-c listen_addresses={HOST}",
                f"-c unix_socket_directories={self.dir}",
                # Durability is pointless for a cluster deleted at the end of the run.
                "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
                "-c max_connections=200",
            ])
            # -w: pg_ctl polls until the server accepts connections (or -t seconds pass).
            started = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                                "-w", "-t", "60", "-o", options)
            if started.returncode == 0:
                return
        raise RuntimeError(f"pg_ctl start failed:\n{tail(self.log)}\n{tail(self.dir / 'commands.log')}")

    def stop(self) -> None:
        if self.data.exists():
            # immediate: nothing to flush in a throwaway cluster; fast teardown.
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL for the session: JCBOT_TEST_POSTGRES_URL's, or a throwaway cluster."""
    external = os.environ.get(EXTERNAL_URL_VAR)
    if external:
        server = PostgresServer(make_url(external), owned=False)
        yield server
        server.drop_created()
        return
    bindir = find_pg_bindir()
    if bindir is None:
        service_missing("PostgreSQL server binaries (initdb, pg_ctl) not found "
                        "under /usr/lib/postgresql/*/bin or on PATH")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.fail("running as root needs `runuser` to start PostgreSQL as the postgres user")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            service_missing("no `postgres` system user to run PostgreSQL as (we are root)")
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        yield PostgresServer(make_url(f"postgresql+psycopg://{PG_USER}@{HOST}:{cluster.port}/postgres"),
                             owned=True)
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLAlchemy URL of an empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/jcbot.sqlite"
    # Looked up lazily so that `-k sqlite` never starts PostgreSQL.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url(server.create_database())
