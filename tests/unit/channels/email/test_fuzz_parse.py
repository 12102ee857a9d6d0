"""Fuzzing the reading of received mail: `read_reply` and `jcbot mail parse` never raise, never crawl.

The number of examples comes from the Hypothesis profile (tests/conftest.py): a few
hundred in CI, thousands with `make fuzz`.
"""
from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from typer.testing import CliRunner

from jcbot.channels.email.limits import bound
from jcbot.channels.email.parse import parse_message, read_reply
from jcbot.cli import app
from jcbot.settings import SETTINGS
from tests.unit.channels.email.strategies import emails

LIMITS = {s.name: int(s.default or 0) for s in SETTINGS if s.name.startswith("JCBOT_INBOUND_MAX_")}
HEADER, BODY = LIMITS["JCBOT_INBOUND_MAX_HEADER_BYTES"], LIMITS["JCBOT_INBOUND_MAX_BODY_BYTES"]
runner = CliRunner()


def read(raw: bytes):
    bounded = bound(raw, HEADER, BODY)
    if bounded.problem:
        return None
    return read_reply(parse_message(bounded.raw), reply_local="jc")


@settings(deadline=None)
@given(emails())
def test_reading_any_email_never_raises_and_is_quick(raw):
    started = time.monotonic()
    reading = read(raw)
    assert time.monotonic() - started < 5  # seconds: before the limits, one header took 57
    if reading is not None:
        # What goes into a refusal's headers and the database: one token, no control character.
        for value in (reading.from_address, reading.message_id, reading.in_reply_to):
            assert value is None or not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value)


# A fifth of the profile's examples: each one runs the command twice.
@settings(deadline=None, max_examples=max(20, settings().max_examples // 5),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=emails())
def test_mail_parse_never_exits_with_a_traceback(tmp_path, raw):
    path = tmp_path / "reply.eml"
    path.write_bytes(raw)
    for args in ([], ["--json"]):
        result = runner.invoke(app, ["mail", "parse", str(path), *args])
        assert result.exit_code in (0, 2), result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_the_inputs_that_crashed_it_are_read():
    # Found by fuzzing (issue 14): a charset holding NUL, nested comments in From, a
    # 60 KB folded address list, a 1 MB unfolded header.
    base = b"From: a@b.example\r\nTo: jc+abc@x.example\r\n"
    cases = [
        base + b"Content-Type: text/plain; charset=\"ut\x00f-8\"\r\n\r\nyes\r\n",
        b"From: " + b"(" * 2000 + b"<a@b.example>\r\n\r\nyes\r\n",
        b"From: a@b.example\r\nTo: " + b",\r\n ".join([b"x%d@y.example" % i for i in range(4000)]) + b"\r\n\r\nyes\r\n",
        base + b"X-Long: " + b"a," * 500_000 + b"\r\n\r\nyes\r\n",
        b"From: " + b"a," * 30_000 + b"<a@b.example>\r\n\r\nyes\r\n",
    ]
    for raw in cases:
        started = time.monotonic()
        read(raw)
        assert time.monotonic() - started < 5
