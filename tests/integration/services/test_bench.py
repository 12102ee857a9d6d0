"""`python -m bench` stays runnable: a tiny run on each database prints its table and ratio line."""
from __future__ import annotations

import re

import pytest

from bench.__main__ import main


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_assertion_bench_prints_its_ratio(kind, request, monkeypatch, capsys):
    if kind == "postgresql":
        # The bench finds PostgreSQL the way the suite does: this session's server.
        monkeypatch.setenv("JCBOT_TEST_POSTGRES_URL", request.getfixturevalue("postgres_server").url())
    assert main(["-n", "3", "--db", kind, "--only", "assertions"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("assertions recorded per second: record_assertion vs raw INSERT + COMMIT")
    row = re.fullmatch(rf"{kind}\s+3\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", out[2])
    assert row, out
    service, raw, ratio = map(float, row.groups())
    assert service > 0 and raw > 0 and ratio == pytest.approx(service / raw, abs=0.001)
    assert re.fullmatch(rf"ratio {kind}: service/raw = \d+\.\d{{3}} \(raw is [\d.]+x faster\)", out[3]), out
    where = re.fullmatch(rf"where it goes, {kind}: the service's ([\d.]+) statements per assertion replayed through "
                         r"the driver alone ([\d.]+) ms \(ceiling ratio ([\d.]+)\), through SQLAlchemy's connection "
                         r"([\d.]+) ms; the service ([\d.]+) ms, raw INSERT \+ COMMIT ([\d.]+) ms", out[4])
    assert where, out
    statements, driver_ms, ceiling, _, service_ms, raw_ms = map(float, where.groups())
    assert statements >= 5  # lock, read, insert, audit, outbox at least
    assert driver_ms > 0 and ceiling == pytest.approx(raw_ms / driver_ms, rel=0.05, abs=0.002)
    assert service_ms == pytest.approx(1000 / service, rel=0.01)
    pipelined = re.fullmatch(rf"  {kind}: the same statements in psycopg's pipeline, one wait per assertion \(a design "
                             r"that reads before it writes needs a few more\): ([\d.]+) ms \(ceiling ratio ([\d.]+)\)",
                             out[5]) if len(out) > 5 else None
    if kind == "postgresql":
        assert pipelined, out
        pipeline_ms, pipeline_ceiling = map(float, pipelined.groups())
        assert pipeline_ms > 0 and pipeline_ceiling == pytest.approx(raw_ms / pipeline_ms, rel=0.05, abs=0.002)
    else:
        assert pipelined is None and len(out) == 5, out  # sqlite3 has no pipeline


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_the_sweep_bench_prints_its_ratio(kind, request, monkeypatch, capsys):
    if kind == "postgresql":
        monkeypatch.setenv("JCBOT_TEST_POSTGRES_URL", request.getfixturevalue("postgres_server").url())
    assert main(["--only", "sweep", "--db", kind, "--sweep-rows", "600"]) == 0
    out = capsys.readouterr().out
    row = re.search(rf"^{kind}\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$", out, re.MULTILINE)
    assert row, out
    assert int(row.group(1)) == 600
    assert re.search(rf"^ratio {kind}: routine sweep/count = [\d.]+; a full reconciliation of 600 would take about \d+ s$",
                     out, re.MULTILINE), out
