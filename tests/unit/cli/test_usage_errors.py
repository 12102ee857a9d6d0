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


@pytest.mark.parametrize(("command", "what"), [(["simulate"], "timeline"), (["cycle", "simulate"], "case file")])
@pytest.mark.parametrize(("content", "expected"), [
    (b"committee: {\xff\xfe", "is not UTF-8 text"),
    (b"a: [1,\n  b: 2\n", ""),  # a YAML error, whatever its own wording: still one line
])
def test_an_unreadable_input_file_is_one_line_naming_it(tmp_path, command, what, content, expected):
    path = tmp_path / "input.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(app, [*command, str(path)], prog_name="jcbot")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ") and expected in lines[0], lines[0]
    if expected:
        assert what in lines[0]
