"""Fixtures of the email tests (helpers are in mailtest.py)."""
from __future__ import annotations

import pytest

from jcbot.channels.email.lmtp import start_listener
from tests.integration.email.mailtest import committee_factory  # noqa: F401


@pytest.fixture
def jc(committee_factory):  # noqa: F811
    """The committee under test, its proposal distributed."""
    return committee_factory()


@pytest.fixture
def listener(jc):
    """jcbot's LMTP listener on a free port of 127.0.0.1."""
    running = start_listener(jc.ctx, host="127.0.0.1", port=0, protocol="lmtp")
    yield running
    running.stop()
