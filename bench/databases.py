"""The databases a benchmark runs on: a SQLite file, and a PostgreSQL like the test suite's."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DATABASES = ("sqlite", "postgresql")


class Unavailable(RuntimeError):
    """The database cannot be had here (no PostgreSQL binaries...); the reason says why."""


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A URL of an empty database of `kind`, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="jcbot-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
    elif kind == "postgresql":
        with _postgres() as url:
            yield url
    else:
        raise ValueError(f"unknown database {kind!r}: use one of {', '.join(DATABASES)}")


@contextmanager
def _postgres() -> Iterator[str]:
    # The test suite's own way of getting PostgreSQL: JCBOT_TEST_POSTGRES_URL, or a
    # throwaway cluster from Debian's binaries (run as `postgres` when we are root).
    from sqlalchemy.engine import make_url

    from tests.support.ports import HOST
    from tests.support.postgres import EXTERNAL_URL_VAR, PG_USER, PostgresServer, _Cluster, find_pg_bindir

    external = os.environ.get(EXTERNAL_URL_VAR)
    if external:
        server = PostgresServer(make_url(external), owned=False)
        try:
            yield server.url(server.create_database("jcbot_bench"))
        finally:
            server.drop_created()
        return
    bindir = find_pg_bindir()
    if bindir is None:
        raise Unavailable(f"no PostgreSQL binaries (initdb, pg_ctl); install them or set {EXTERNAL_URL_VAR}")
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        server = PostgresServer(make_url(f"postgresql+psycopg://{PG_USER}@{HOST}:{cluster.port}/postgres"), owned=True)
        yield server.url(server.create_database("jcbot_bench"))
    finally:
        cluster.stop()
