"""Delivery gaps said out loud: members no notice reaches, shared addresses, `jcbot outbox`."""
from __future__ import annotations

import json
import re

import pytest


@pytest.fixture
def ref(jcbot) -> str:
    """A committee whose japan co-chair (tanaka) and one member (bat) have no email and no Slack."""
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    jcbot("member", "add", "japan-mongolia", "tanaka", "-g", "japan")
    jcbot("member", "add", "japan-mongolia", "sato", "-g", "japan", "--email", "sato@env.go.jp")
    jcbot("member", "add", "japan-mongolia", "bat", "-g", "host")
    jcbot("member", "add", "japan-mongolia", "oyun", "-g", "host", "--email", "oyun@mne.gov.mn")
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "oyun")
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "T", "--text", "Text.", "--item", "other:Thing").stdout
    return re.search(r"MN-P-\d{4}-\d{3}", out).group(0)


def test_distribution_warns_of_members_it_cannot_reach(jcbot, ref):
    # Regression: "distributed to 4 members", and nothing said of the two no message reaches.
    done = jcbot("proposal", "distribute", ref)
    assert "distributed" in done.stdout and "to 4 members" in done.stdout
    [warning] = done.stderr.strip().splitlines()
    assert warning.startswith(f"warning: {ref}: jcbot cannot reach 2 members (no email, no Slack)")
    assert "tanaka (co-chair of the japan seat), bat;" in warning
    assert "the secretariat must act: the japan co-chair seat" in warning
    [event] = jcbot.sql("SELECT data FROM audit_event WHERE action = 'proposal.distributed'")
    assert json.loads(event[0])["unreachable"] == ["tanaka", "bat"]
    pending = jcbot("pending")
    assert "jcbot cannot reach 2 members" in pending.stderr and ref in pending.stdout
    # Once both have an address, nothing is said.
    jcbot("member", "update", "japan-mongolia", "tanaka", "--email", "tanaka@env.go.jp")
    jcbot("slack", "link", "japan-mongolia", "bat", "U0BAT")
    assert jcbot("pending").stderr == ""


def test_a_member_cannot_take_another_members_address(jcbot, ref):
    jcbot.refused("member", "add", "japan-mongolia", "dorj", "-g", "host", "--email", "Oyun@MNE.gov.mn",
                  match=r"dorj: Oyun@MNE.gov.mn is already the email of oyun in japan-mongolia")
    jcbot.refused("member", "update", "japan-mongolia", "bat", "--email", "sato@env.go.jp",
                  match=r"bat: sato@env.go.jp is already the email of sato")
    jcbot("member", "update", "japan-mongolia", "sato", "--email", "sato@env.go.jp")  # their own: fine


def test_outbox_list_show_and_retry(jcbot, ref):
    jcbot("proposal", "distribute", ref)
    assert jcbot("outbox", "list").stdout.strip() == "no delivery problems"
    [(mid,)] = jcbot.sql("SELECT id FROM outbox_message WHERE recipient = 'sato@env.go.jp' AND kind = 'distribution'")
    jcbot.sql("UPDATE outbox_message SET status = 'failed', attempts = 1, "
              "last_error = '550 5.1.1 <sato@env.go.jp>: user unknown' WHERE id = :id", id=mid)
    listed = jcbot("outbox", "list").stdout
    assert "sato@env.go.jp" in listed and "550 5.1.1" in listed and "failed" in listed and "japan-mongolia" in listed
    assert json.loads(jcbot("outbox", "list", "--json").stdout)[0]["id"] == mid
    shown = jcbot("outbox", "show", str(mid)).stdout
    assert "status:        failed" in shown and "last error:    550 5.1.1" in shown
    assert "will be sent again now" in jcbot("outbox", "retry", str(mid)).stdout
    assert jcbot.sql("SELECT status FROM outbox_message WHERE id = :id", id=mid) == [("pending",)]
    assert jcbot.sql("SELECT COUNT(*) FROM audit_event WHERE action = 'outbox.requeued'") == [(1,)]
    jcbot.refused("outbox", "retry", str(mid), match="is not failed")
    jcbot.refused("outbox", "show", "999999", match="there is no outbox message 999999")
