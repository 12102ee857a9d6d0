"""Shared fixtures: the real services the suite talks to (see tests/support/)."""
import os

from hypothesis import HealthCheck, settings

# Imported here so every test can request them by name; the code lives in support/.
# (`support` is importable because pytest puts this directory on sys.path.)
from support.dovecot import dovecot_server, imap_user  # noqa: F401
from support.fake_slack import fake_slack  # noqa: F401
from support.postgres import db_url, postgres_server  # noqa: F401
from support.smtp import smtp_server  # noqa: F401

# How many examples the fuzzing tests draw (tests/unit/channels/email/test_fuzz_parse.py...):
# the default locally, a few hundred in CI, thousands with `make fuzz` (HYPOTHESIS_PROFILE=fuzz).
settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("fuzz", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))


def pytest_collection_modifyitems(config, items):
    """Tests marked `image` build the container image, whose pip install downloads from PyPI.

    They run only when JCBOT_TEST_IMAGE_BASE names a local base image; otherwise they are
    deselected (counted as such in the summary), never skipped.
    """
    if os.environ.get("JCBOT_TEST_IMAGE_BASE"):
        return
    dropped = [item for item in items if item.get_closest_marker("image") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.get_closest_marker("image") is None]
