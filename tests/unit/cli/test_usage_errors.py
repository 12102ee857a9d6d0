"""A usage error is one line on stderr naming what is wrong and what is expected, exit 2."""
from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jcbot.cli import app


@pytest.mark.parametrize(("args", "expected"), [
    (["member", "add", "jc", "tanaka"], "jcbot member add: Missing option '--government' / '-g': japan or host."),
    (["proposal", "draft", "jc"], "jcbot proposal draft: Missing option '--title'"),
    (["member", "add"], "jcbot member add: Missing argument 'slug'"),
    (["comittee", "list"], "jcbot: No such command 'comittee'. Did you mean 'committee'?"),
    (["--bogus"], "jcbot: No such option: --bogus"),
    (["rules", "check"], "jcbot rules check: Missing argument"),
])
def test_a_usage_error_is_one_line_and_exit_2(args, expected):
    result = CliRunner().invoke(app, args, prog_name="jcbot")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: " + expected), lines[0]
    assert lines[0].endswith("--help')")
    assert "╭" not in result.stderr and "Usage:" not in result.stderr
