"""Shared fixtures: the real services the suite talks to (see tests/support/)."""

# Imported here so every test can request them by name; the code lives in support/.
# (`support` is importable because pytest puts this directory on sys.path.)
from support.dovecot import dovecot_server, imap_user  # noqa: F401
from support.fake_slack import fake_slack  # noqa: F401
from support.postgres import db_url, postgres_server  # noqa: F401
from support.smtp import smtp_server  # noqa: F401
