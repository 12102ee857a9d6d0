"""An engine on a migrated, empty database, for each of SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from jcbot.store.db import init_db, make_engine


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """make_engine(db_url) with the schema at head."""
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_engine(postgres_server) -> Iterator[Engine]:
    """An engine on a fresh, migrated PostgreSQL database (for PostgreSQL-only behaviour)."""
    engine = make_engine(postgres_server.url(postgres_server.create_database()))
    init_db(engine)
    yield engine
    engine.dispose()
