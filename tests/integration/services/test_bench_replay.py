"""The bench's replay: the statements a service sent, sent again to a copy of its database, end where it did."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from bench import assertions
from bench.replay import COMMIT, Recorder, audit_head, copy_of, replay
from jcbot.clock import ManualClock
from jcbot.services.context import ServiceContext
from jcbot.settings import load_settings
from jcbot.store.db import init_db, make_engine


@pytest.fixture
def run(db_url: str, tmp_path: Path):
    """Four assertions through the service, recorded, with a copy of the database made before them."""
    engine = make_engine(db_url)
    init_db(engine)
    settings = load_settings(env={"JCBOT_STORAGE_DIR": str(tmp_path), "JCBOT_SECRET": "bench-" + "0" * 26},
                             dotenv=None)
    ctx = ServiceContext(engine, ManualClock(assertions.START), settings, [])
    work = assertions._setup(ctx, 4)
    with copy_of(engine) as first, copy_of(engine) as second:
        with Recorder(engine).recording() as recorder:
            assertions._service(ctx, work)
        yield engine, recorder, first, second
    engine.dispose()


@pytest.mark.parametrize("through", ["driver", "sqlalchemy", "pipeline"])
def test_a_replay_ends_with_the_services_audit_head(run, through):
    engine, recorder, copy, _ = run
    if through == "pipeline" and engine.dialect.name != "postgresql":
        with pytest.raises(ValueError, match="pipeline mode is PostgreSQL's, not sqlite's"):
            replay(copy, recorder.sent, through=through)
        assert audit_head(copy) != audit_head(engine.url.render_as_string(hide_password=False))  # nothing sent
        return
    head = audit_head(engine.url.render_as_string(hide_password=False))
    assert audit_head(copy) != head  # the copy is from before the run
    assert recorder.sent.count((COMMIT, None, False)) == 4  # one transaction per assertion
    assert replay(copy, recorder.sent, through=through) > 0
    assert audit_head(copy) == head
    probe = make_engine(copy)
    try:
        with probe.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM assertion")).scalar_one() == 4
    finally:
        probe.dispose()


def test_a_replay_missing_a_write_does_not_end_there(run):
    engine, recorder, copy, _ = run
    last_audit = max(i for i, (s, _, _) in enumerate(recorder.sent) if s.startswith("INSERT INTO audit_event"))
    partial = recorder.sent[:last_audit] + recorder.sent[last_audit + 1:]
    replay(copy, partial, through="driver")
    assert audit_head(copy) != audit_head(engine.url.render_as_string(hide_password=False))


def test_replay_refuses_an_unknown_path(run):
    _, recorder, copy, _ = run
    with pytest.raises(ValueError, match="use driver, sqlalchemy or pipeline"):
        replay(copy, recorder.sent, through="psql")


def test_copies_are_removed_afterwards(db_url, tmp_path):
    engine = make_engine(db_url)
    init_db(engine)
    try:
        with copy_of(engine) as url:
            probe = make_engine(url)
            with probe.connect() as conn:
                assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one() >= 0
            probe.dispose()
        if engine.url.get_backend_name() == "sqlite":
            assert not Path(url.removeprefix("sqlite:///")).exists()
        else:
            with engine.connect() as conn:
                name = url.rsplit("/", 1)[1]
                assert conn.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"), {"n": name}).scalar() == 0
    finally:
        engine.dispose()
