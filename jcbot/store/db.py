"""Engine, sessions, column types and schema migration shared by every table."""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Text, create_engine, event, make_url, text
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel

from jcbot.settings import Settings, load_settings

# Named constraints: SQLite's batch migrations can only drop or alter a constraint by name.
# Set here because every table module imports this one before defining its tables.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_S = 30
# Any constant works; it only has to be the same in every jcbot process.
_MIGRATION_LOCK_KEY = 0x6A63626F74  # "jcbot"


def storage_dir(settings: Settings | None = None) -> Path:
    """The runtime data folder of `settings` (default: as read now), created if missing."""
    path = (settings or load_settings()).storage_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url(settings: Settings | None = None) -> str:
    """The database of `settings` (default: as read now): JCBOT_DATABASE_URL, else a SQLite file in the storage folder."""
    settings = settings or load_settings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(storage_dir(settings) / 'jcbot.sqlite').resolve()}"


def normalize_url(url: str) -> str:
    """Point plain PostgreSQL URLs at the psycopg 3 driver (the only one installed)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str | None = None, pool_size: int | None = None, **kwargs: Any) -> Engine:
    """An engine for `url` (default: database_url()) with jcbot's connection settings.

    `pool_size`: connections kept open, one per thread of the service context's pool
    (JCBOT_DB_THREADS), so a service call never waits for a connection.
    """
    sa_url = make_url(normalize_url(url or database_url()))
    if pool_size is not None:
        kwargs.setdefault("pool_size", pool_size)
    if sa_url.get_backend_name() != "sqlite":
        return _plain_savepoints(create_engine(sa_url, pool_pre_ping=True, **kwargs))
    memory = sa_url.database in (None, "", ":memory:")
    if memory:
        # One shared connection, or each checkout would see its own empty database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.pop("pool_size", None)
    else:
        Path(sa_url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        sa_url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S},
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module: it skips BEGIN before SELECT,
        # so a read-then-write transaction would not be isolated.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        if not memory:
            # Readers do not block the writer (the dashboard while a sweep writes).
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: transactions queue on the busy
        # timeout instead of failing when a reader later upgrades to a writer, and
        # check-then-write services (audit chain, outbox claims) are serialised.
        # A read scope (pages, views) begins DEFERRED: under WAL it never waits for writers.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")

    return _plain_savepoints(engine)


def _plain_savepoints(engine: Engine) -> Engine:
    """The engine's SAVEPOINT, RELEASE and ROLLBACK TO as plain statements.

    SQLAlchemy compiles a new clause for each (about 0.2 ms, where the database takes a
    few microseconds), and every input of a group commit (`intake.take_many`) takes a
    savepoint and releases it. The names are SQLAlchemy's own (sa_savepoint_N), quoted
    by the dialect as its compiler would.
    """
    quote = engine.dialect.identifier_preparer.quote

    def do_savepoint(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"SAVEPOINT {quote(name)}")

    def do_release_savepoint(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {quote(name)}")

    def do_rollback_to_savepoint(connection: Any, name: str) -> None:
        connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {quote(name)}")

    dialect: Any = engine.dialect  # the instance's methods, not the class's: other engines keep theirs
    dialect.do_savepoint, dialect.do_release_savepoint = do_savepoint, do_release_savepoint
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint
    return engine


READ_ONLY = "jcbot_read_only"


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A read-only transaction: a consistent snapshot that does not queue behind writers."""
    with Session(engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False) as session:
        with session.begin():
            yield session
            # Nothing may be written in a read scope: a flush here would be a bug.
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read scope tried to write")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits when the block ends, rolls back if it raises."""
    # expire_on_commit=False: objects stay readable after the block (CLI output, returns).
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            yield session


def lock_names(session: Session, namespace: str, *names: str) -> None:
    """Hold a lock on each name until the transaction ends, so two transactions about one name take turns.

    PostgreSQL: a transaction-scoped advisory lock per name, taken in one order (no
    deadlock between two such transactions). SQLite needs none: a writing transaction
    holds the only write lock from its BEGIN IMMEDIATE.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                        {"name": f"jcbot:{namespace}:{name}"})


def upsert_insert(session: Session) -> Any:
    """`insert` of the session's dialect, the one that takes ON CONFLICT clauses (SQLite or PostgreSQL).

    The dialect's module is imported for the database in use only: an idle `serve` on
    SQLite does not carry PostgreSQL's.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"jcbot supports SQLite and PostgreSQL, not {dialect}")
    return insert


def canonical_json(value: Any) -> str:
    """The one JSON spelling of `value`: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable: {value!r}")


def iso_utc(instant: datetime) -> str:
    """`instant` as ISO 8601 in UTC with microseconds and a Z, e.g. 2026-03-01T09:00:00.000000Z."""
    return require_aware(instant).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def require_aware(instant: datetime) -> datetime:
    """`instant` itself, or ValueError if it has no time zone."""
    if not isinstance(instant, datetime):
        raise TypeError(f"expected a datetime, got {type(instant).__name__}: {instant!r}")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"naive datetime {instant.isoformat()} refused: jcbot stores instants, "
            "give a time zone (e.g. datetime(..., tzinfo=UTC) or clock.now())"
        )
    return instant


class UTCDateTime(TypeDecorator[datetime]):
    """An instant: stored in UTC, always read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = require_aware(value).astimezone(UTC)
        # SQLite has no time zone type: store naive UTC text, which also sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # PostgreSQL answers in the session's time zone; normalise to UTC.
        return value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON stored as canonical text, so the same value is always the same bytes.

    Mutating a loaded dict in place is not detected: assign a new value.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else canonical_json(value)

    def process_result_value(self, value: str | None, dialect: Any) -> Any:
        return None if value is None else json.loads(value)


def alembic_config(url: str | None = None) -> Any:
    """An Alembic Config for the shipped migrations, no alembic.ini needed."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates %, so a path or URL containing one must be escaped.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url:
        config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=\n]*)?=\s*(.+)$", re.MULTILINE)


def head_revisions() -> set[str]:
    """The heads of the shipped migrations, read from their `revision`/`down_revision` lines.

    Read as text: importing Alembic and the migration scripts costs a CLI command more
    than the rest of its start-up, and at head there is nothing to run.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for key, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            names = set(re.findall(r"[\'\"]([^\'\"]+)[\'\"]", value))
            (revisions if key == "revision" else parents).update(names)
    return revisions - parents


def at_head(engine: Engine) -> bool:
    """Whether the database's schema is at the shipped migrations' only head (nothing to migrate)."""
    from sqlalchemy import inspect

    heads = head_revisions()
    if len(heads) != 1:
        return False
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return False
        current = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    return current == heads


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration; safe to call at every start (cheap at head)."""
    if at_head(engine):
        return
    from alembic import command

    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations copy a table and drop the old one; with foreign keys on,
            # that DROP would cascade into child rows. The pragma is a no-op inside a
            # transaction, so it is sent on the raw connection before BEGIN.
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    # Two processes starting at once must not both run a migration.
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
                config = alembic_config()
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(
                            f"migration left rows with dangling foreign keys: {broken[:5]}"
                        )
        finally:
            if sqlite:
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def init_db_apart(engine: Engine, log_level: str = "WARNING") -> None:
    """init_db in a short-lived child process, for a process that stays up (`jcbot serve`).

    Alembic, Mako and the migration scripts (about 12 MiB resident) are then never
    imported here; at head nothing is started. A database no other process can open
    (SQLite in memory) is migrated in this process. The child's errors reach stderr as
    they would here, and a failure raises RuntimeError naming the child's last line.
    """
    import subprocess
    import sys

    if at_head(engine):
        return
    if engine.url.get_backend_name() == "sqlite" and engine.url.database in (None, "", ":memory:"):
        init_db(engine)
        return
    package_root = str(Path(__file__).resolve().parents[2])
    # The URL (it may hold a password) goes on the child's stdin, never on the command line;
    # the child imports this very package (the checkout's, if that is what runs here).
    done = subprocess.run([sys.executable, "-c", _CHILD, package_root, log_level],
                          input=engine.url.render_as_string(hide_password=False), stderr=subprocess.PIPE,
                          text=True, errors="replace")
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise RuntimeError(f"migrating the database failed: {last}")


_CHILD = "import sys; sys.path.insert(0, sys.argv[1]); from jcbot.store.db import _migrate_child; _migrate_child()"


def _migrate_child() -> None:
    """The child of init_db_apart: migrate the database whose URL its parent wrote on stdin."""
    import sys

    from jcbot.logs import setup_logging

    setup_logging(sys.argv[2] if len(sys.argv) > 2 else "WARNING")
    engine = make_engine(sys.stdin.read(), pool_size=1)
    try:
        init_db(engine)
    finally:
        engine.dispose()
