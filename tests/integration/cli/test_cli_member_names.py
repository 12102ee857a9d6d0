"""`jcbot member add`: the name emails greet a member by (display name in --email), and local addresses."""
from __future__ import annotations


def test_a_member_is_named_from_the_address_or_told_how_to_name_them(jcbot):
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    named = jcbot("member", "add", "japan-mongolia", "tanaka", "-g", "japan", "--email", "Tanaka Hiroshi <tanaka@localhost>")
    assert named.stdout == "japan-mongolia: tanaka (japan) is a member\n" and named.stderr == ""
    bare = jcbot("member", "add", "japan-mongolia", "bat", "-g", "host", "--email", "bat@localhost")
    assert bare.stderr.startswith("note: emails greet bat as 'bat'; give a name with jcbot member update japan-mongolia bat")
    assert jcbot.sql("SELECT handle, name, email FROM member ORDER BY id") == [
        ("tanaka", "Tanaka Hiroshi", "tanaka@localhost"), ("bat", "bat", "bat@localhost")]
