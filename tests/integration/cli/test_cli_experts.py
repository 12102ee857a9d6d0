"""`jcbot expert appoint|list|revoke` on SQLite and PostgreSQL: one line per refusal, nothing written."""
from __future__ import annotations

import json
import re

MEMBERS = [("tanaka", "japan"), ("sato", "japan"), ("bat", "host"), ("dorj", "host")]


def _proposal(jcbot) -> str:
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    for handle, gov in MEMBERS:
        jcbot("member", "add", "japan-mongolia", handle, "-g", gov, "--email", f"{handle}@jc.example")
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "Approval of MN_PM012", "--text", "The JC approves it.",
                "--item", "methodology_approval:Boilers").stdout
    return re.search(r"MN-P-\d{4}-\d{3}", out).group(0)


def test_appoint_list_revoke(jcbot):
    ref = _proposal(jcbot)
    out = jcbot("expert", "appoint", ref, "--name", "Dr. Enkh", "--email", "enkh@panel.example",
                "--panel", "Methodologies Panel").stdout
    assert out == f"{ref}: Dr. Enkh <enkh@panel.example> appointed as an expert (Methodologies Panel)\n"
    jcbot.refused("expert", "appoint", ref, "--name", "Dr. Enkh", "--email", "enkh@panel.example",
                  match="already appointed")
    jcbot.refused("expert", "appoint", ref, "--name", "Sato", "--email", "sato@jc.example",
                  match="address of member sato")
    jcbot.refused("expert", "appoint", "MN-P-2026-999", "--name", "X", "--email", "x@panel.example",
                  match="no proposal")
    listed = json.loads(jcbot("expert", "list", ref, "--json").stdout)
    assert [(e["name"], e["panel"], e["revoked_at"]) for e in listed] == [("Dr. Enkh", "Methodologies Panel", None)]
    assert jcbot("expert", "revoke", ref, "enkh@panel.example").stdout == \
        f"{ref}: Dr. Enkh <enkh@panel.example> is no longer appointed\n"
    jcbot.refused("expert", "revoke", ref, "enkh@panel.example", match="no expert enkh@panel.example")
    assert "revoked" in jcbot("expert", "list", ref).stdout
    actions = [a for (a,) in jcbot.sql("SELECT action FROM audit_event ORDER BY id")]
    assert actions[-2:] == ["expert.appointed", "expert.revoked"]
