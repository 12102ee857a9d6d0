"""The Alembic migrations: one head, reversible, and exactly the schema SQLModel declares."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import jcbot.store.tables  # noqa: F401  (the whole schema, as env.py sees it)
from jcbot.store.db import MIGRATIONS_DIR, alembic_config, init_db, make_engine

REPO = Path(__file__).resolve().parents[3]


def schema_diffs(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)


def test_migrations_at_head_match_the_tables(engine):
    # Fails when a table changes without a migration: run scripts/new-migration.
    assert schema_diffs(engine) == []


def test_the_database_is_at_the_single_head(engine):
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"several migration heads {heads}: merge them (alembic merge) or renumber"
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_heads() == tuple(heads)


def test_init_db_twice_is_harmless(engine):
    init_db(engine)
    assert {"audit_event", "outbox_message"} <= set(inspect(engine).get_table_names())


def test_downgrade_to_base_and_back(db_url):
    from alembic import command

    engine = make_engine(db_url)
    init_db(engine)
    with engine.begin() as conn:
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    init_db(engine)
    assert schema_diffs(engine) == []
    engine.dispose()


def test_init_db_leaves_sqlite_foreign_keys_on(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/fk.sqlite", pool_size=1)
    init_db(engine)
    with engine.connect() as conn:  # the same pooled connection init_db used
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_migration_files_depend_only_on_alembic_and_sqlalchemy():
    # A migration must still run after the models it came from have changed or moved.
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        source = path.read_text()
        assert "jcbot" not in source and "sqlmodel" not in source, path.name


def test_new_migration_script_finds_nothing_to_generate_when_up_to_date(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/probe.sqlite")
    init_db(engine)
    if schema_diffs(engine):
        # Running the script now would write a new revision into the source tree;
        # test_migrations_at_head_match_the_tables already fails for this.
        pytest.skip("the tables differ from the migrations")
    engine.dispose()
    before = sorted((MIGRATIONS_DIR / "versions").glob("*.py"))
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "new-migration"), "nothing"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert done.returncode == 1, done.stderr
    assert "nothing to generate" in done.stderr
    assert sorted((MIGRATIONS_DIR / "versions").glob("*.py")) == before
