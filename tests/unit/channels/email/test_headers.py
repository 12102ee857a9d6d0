"""jcbot.channels.email.headers: header values are always encodable text."""
from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from jcbot.channels.email.headers import header_value, header_values
from jcbot.channels.email.parse import read_reply


@pytest.mark.parametrize("raw, expected", [
    (b"<[\xc2\x80@x>", "<[\u0080@x>"),          # 8-bit UTF-8: read as UTF-8
    (b"<a\xff\xfeb@x>", "<a\ufffd\ufffdb@x>"),  # not UTF-8: U+FFFD, never a lone surrogate
])
def test_raw_8bit_header_bytes_become_encodable_text(raw, expected):
    msg = message_from_bytes(b"From: m@example.org\r\nMessage-ID: " + raw + b"\r\nSubject: s\xe9\r\n\r\nyes\r\n",
                             policy=policy.default)
    assert header_value(msg, "Message-ID") == expected
    for name in ("Message-ID", "Subject", "From"):
        for value in header_values(msg, name):
            value.encode("utf-8")  # would raise on a surrogate
    reading = read_reply(msg)
    assert reading.message_id is None or reading.message_id.encode("utf-8")
