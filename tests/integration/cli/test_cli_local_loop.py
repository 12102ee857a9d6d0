"""The local loop: members answer with `jcbot dev reply` into the Maildir, through the email intake, to adoption."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default

MEMBERS = (("tanaka", "japan", "Taro Tanaka"), ("sato", "japan", ""), ("bat", "host", ""), ("oyun", "host", ""))


def _distributed(jcbot) -> str:
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    for handle, gov, name in MEMBERS:
        jcbot("member", "add", "japan-mongolia", handle, "-g", gov, "--email", f"{handle}@example.org",
              *(["--name", name] if name else []))
    jcbot("cochair", "elect", "japan-mongolia", "japan", "tanaka")
    jcbot("cochair", "elect", "japan-mongolia", "host", "bat")
    out = jcbot("proposal", "draft", "japan-mongolia", "--title", "Approval", "--text", "The JC approves.",
                "--item", "other:Something").stdout
    ref = out.split()[-1]
    jcbot("proposal", "distribute", ref)
    return ref


def test_dev_reply_writes_what_a_mail_client_sends_into_the_maildir(jcbot):
    ref = _distributed(jcbot)
    out = jcbot("dev", "reply", ref, "tanaka", "affirm").stdout
    new = jcbot.tmp / "storage" / "maildir" / "new"
    [path] = list(new.iterdir())
    assert str(path) in out
    msg = message_from_bytes(path.read_bytes(), policy=default)
    assert msg["From"].addresses[0].addr_spec == "tanaka@example.org"
    assert msg["From"].addresses[0].display_name == "Taro Tanaka"
    to = msg["To"].addresses[0].addr_spec
    assert to.startswith("jcbot+") and to.endswith("@localhost")  # the Reply-To of the distribution, its token
    assert msg["In-Reply-To"].startswith("<jcbot.distribution.") and msg["In-Reply-To"] in msg["References"]
    assert msg["Message-ID"] != msg["In-Reply-To"] and msg["Subject"].startswith("Re: ")
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith("AFFIRM\n") and "\n> " in body  # the answer above the quoted original
    assert list((jcbot.tmp / "storage" / "maildir" / "tmp").iterdir()) == []

    # `mail receive` feeds the same file through the intake: recorded once.
    first = jcbot("mail", "receive", str(path)).stdout.strip()
    assert first.endswith(f"recorded: affirmative of tanaka on {ref} version 1 (open)")
    assert "duplicate" in jcbot("mail", "receive", str(path)).stdout
    assert len(jcbot.sql("SELECT id FROM assertion")) == 1


def test_every_member_replying_adopts_the_decision(jcbot):
    ref = _distributed(jcbot)
    for handle in ("tanaka", "sato", "bat"):
        out = jcbot("dev", "reply", ref, handle, "affirm", "--now").stdout
        assert f"recorded: affirmative of {handle}" in out
    out = jcbot("dev", "reply", ref, "oyun", "affirm", "--now").stdout
    assert "(adopted)" in out
    box = jcbot.tmp / "storage" / "maildir"
    assert list((box / "new").iterdir()) == []
    assert sorted(p.name[-4:] for p in (box / "cur").iterdir()) == [":2,S"] * 4
    assert "adopted (unanimous)" in jcbot("proposal", "show", ref).stdout


def test_a_refused_reply_exits_1_with_one_line(jcbot):
    ref = _distributed(jcbot)
    result = jcbot("dev", "reply", ref, "sato", "object", "--now", ok=False)
    assert result.exit_code == 1
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error: ")]
    assert "refused by rule understood" in line and "needs your opinion" in line
    assert jcbot.sql("SELECT id FROM assertion") == []
    out = jcbot("dev", "reply", ref, "sato", "object", "not ready", "--now").stdout
    assert "recorded: negative of sato" in out


def test_dev_reply_and_mail_receive_refuse_what_they_cannot_do(jcbot):
    jcbot("committee", "create", "japan-mongolia", "--rules", "japan-mongolia")
    jcbot("member", "add", "japan-mongolia", "tanaka", "-g", "japan", "--email", "tanaka@example.org")
    ref = jcbot("proposal", "draft", "japan-mongolia", "--title", "T", "--text", "X",
                "--item", "other:x").stdout.split()[-1]
    jcbot.refused("dev", "reply", ref, "tanaka", "maybe", match="expected affirm or object")
    jcbot.refused("dev", "reply", ref, "nobody", "affirm", match="no member 'nobody'")
    jcbot.refused("dev", "reply", ref, "tanaka", "affirm", match="was not sent to tanaka by email; distribute it")
    jcbot.refused("dev", "reply", "MN-P-2099-999", "tanaka", "affirm", match="no proposal")
    jcbot.refused("mail", "receive", str(jcbot.tmp / "missing.eml"), match="cannot read")
    stranger = jcbot.tmp / "stranger.eml"
    stranger.write_text("From: someone@example.net\nTo: jcbot@localhost\nSubject: hi\nMessage-ID: <1@x>\n\nAFFIRM\n")
    result = jcbot("mail", "receive", str(stranger), ok=False)
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "refused by rule token" in result.stderr
