"""init_db_apart: `jcbot serve` migrates a database in a child process, and its failure is as clear as init_db's."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from jcbot.store.db import at_head, init_db_apart, make_engine


def test_a_new_database_is_brought_to_head_by_the_child(db_url):
    engine = make_engine(db_url)
    try:
        assert not at_head(engine)
        init_db_apart(engine)
        assert at_head(engine)
        with engine.connect() as conn:  # the tables are there for this process's engine
            assert conn.execute(text("SELECT count(*) FROM proposal")).scalar() == 0
        init_db_apart(engine)  # at head: nothing to do
        assert at_head(engine)
    finally:
        engine.dispose()


def test_a_failed_migration_raises_with_the_childs_error_and_shows_its_traceback(db_url, capfd):
    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(text("INSERT INTO alembic_version VALUES ('feedfacecafe')"))
        with pytest.raises(RuntimeError, match=r"^migrating the database failed: .*feedfacecafe"):
            init_db_apart(engine)
        assert "Traceback" in capfd.readouterr().err
    finally:
        engine.dispose()


def test_an_in_memory_database_is_migrated_in_this_process():
    engine = make_engine("sqlite://")
    try:
        init_db_apart(engine)
        assert at_head(engine)
    finally:
        engine.dispose()
