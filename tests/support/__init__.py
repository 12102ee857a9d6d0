"""Real services for the test suite: PostgreSQL, Dovecot, aiosmtpd and a fake Slack Web API."""

from __future__ import annotations

import os

import pytest

MAKE_TEST_HINT = "run `make test`, which installs the Debian packages the suite needs"


def in_ci() -> bool:
    """True when the suite runs under CI (CI=true), where every service must be present."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def service_missing(what: str) -> None:
    """Fail under CI, skip elsewhere, saying which service is missing and how to get it."""
    # A skip in CI would let a broken image pass silently: the tests that need the
    # service would never run. So CI turns the same condition into a failure.
    if in_ci():
        pytest.fail(f"{what} (CI=true: a missing service is a failure; {MAKE_TEST_HINT})",
                    pytrace=False)
    pytest.skip(f"{what}; {MAKE_TEST_HINT}")
