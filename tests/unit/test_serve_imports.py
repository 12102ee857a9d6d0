"""What an idle `jcbot serve` holds in memory: libraries only some deployments use are imported on first use.

aiohttp (about 9 MiB resident) serves only registries with an endpoint; dkimpy and
dnspython (about 3 MiB) only DKIM signing or checking. The figures are `python -m bench
--only rss`'s (README); this checks the imports, in a fresh process.
"""
from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import jcbot.cli.serve, jcbot.channels.http, jcbot.channels.email.smtp, jcbot.channels.email.files
import jcbot.channels.email.inbound, jcbot.channels.email.lmtp, jcbot.channels.email.maildir, jcbot.web.app
print(json.dumps(sorted(sys.modules)))
"""


def test_the_mail_senders_listeners_and_http_app_import_neither_aiohttp_nor_dkim():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout))
    assert "jcbot.channels.http" in modules and "jcbot.channels.email.signing" in modules
    assert not {m for m in modules if m.split(".")[0] in ("aiohttp", "dkim", "dns")}
