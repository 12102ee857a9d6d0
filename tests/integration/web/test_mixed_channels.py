"""Email, Slack and web answers to one proposal mix freely, and the verdict is `jcbot simulate`'s on the same timeline."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from email.message import EmailMessage

import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from jcbot.channels.email.compose import reply_secret
from jcbot.channels.email.inbound import handle_message
from jcbot.channels.email.tokens import make_token, reply_address
from jcbot.cli import app
from jcbot.resources import resolve_rules
from jcbot.services import queries
from jcbot.services.intake import slack as slack_intake
from jcbot.store.db import session_scope
from jcbot.store.models import AssertionRecord, Member
from tests.integration.services.helpers import T0, committee, distributed

from .conftest import sign_in
from .test_answer import forms

GOVERNMENTS = {"tanaka": "japan", "sato": "japan", "suzuki": "japan", "bat": "host", "dorj": "host", "tsetseg": "host"}


def by_email(ctx, ref: str, handle: str, body: str) -> None:
    view = queries.show(ctx, ref)
    with session_scope(ctx.engine) as s:
        m = s.scalars(select(Member).where(Member.handle == handle)).one()
        member_id, address = m.id, m.email
    local, _, domain = ctx.settings.reply_address.rpartition("@")
    msg = EmailMessage()
    msg["From"], msg["Subject"] = address, f"Re: {ref}"
    msg["To"] = reply_address(local, domain, make_token(reply_secret(ctx.settings), view.proposal.id, 1, member_id))
    msg["Message-ID"] = f"<{handle}.{len(body)}@japan-mongolia.example>"
    msg.set_content(f"{body}\n\n> the proposal\n")
    out = handle_message(ctx, msg.as_bytes(), via="test")
    assert out.outcome == "recorded", out


def by_slack(ctx, ref: str, handle: str, position: str, opinion: str | None = None) -> None:
    out = slack_intake.click(ctx, f"U{handle.upper()}", handle, ref, 1, position, opinion,
                             f"slack:{handle}:{ctx.clock.now().isoformat()}")
    assert out.outcome == "recorded", out


async def by_web(client, engine, ref: str, handle: str, position: str, opinion: str = "") -> None:
    await sign_in(client, engine, f"{handle}@japan-mongolia.example")
    f = forms((await client.get(f"/answer/{ref}")).text)
    done = await client.post(f"/answer/{ref}", data=f[position] | {"opinion": opinion})
    assert done.status_code == 303, done.text


def timeline(engine, now) -> dict:
    with session_scope(engine) as s:
        rows = s.scalars(select(AssertionRecord).order_by(AssertionRecord.at, AssertionRecord.id)).all()
        events = [{"at": a.at.isoformat(), "member": a.member, "assert": a.position}
                  | ({"opinion": a.opinion} if a.opinion else {}) for a in rows]
        channels = [a.channel for a in rows]
    return {"members": [{"id": h, "government": g} for h, g in GOVERNMENTS.items()],
            "cochairs": {"japan": "tanaka", "host": "bat"}, "alternates": {"tanaka": "sato", "bat": "dorj"},
            "distributed_at": T0.isoformat(), "events": events, "evaluate_at": now.isoformat(),
            "_channels": channels}


def simulate(tmp_path, data: dict) -> dict:
    path = tmp_path / "timeline.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if not k.startswith("_")}), encoding="utf-8")
    out = CliRunner().invoke(app, ["simulate", str(path), "--rules", str(resolve_rules("japan-mongolia")), "--json"])
    assert out.exit_code == 0, out.output
    return json.loads(out.output)


def same(ctx, engine, tmp_path, ref: str) -> dict:
    verdict = queries.show(ctx, ref).verdict
    data = timeline(engine, ctx.clock.now())
    sim = simulate(tmp_path, data)
    assert (sim["status"], sim["basis"]) == (verdict.status, verdict.basis)
    adopted = datetime.fromisoformat(sim["adopted_at"].replace("Z", "+00:00")) if sim["adopted_at"] else None
    assert adopted == verdict.adopted_at  # instants compared as datetimes
    return {"verdict": verdict, "simulated": sim, "channels": data["_channels"]}


async def test_email_slack_and_web_answers_mix_and_match_simulate(ctx, client, engine, tmp_path):
    committee(ctx)
    ref = distributed(ctx)
    steps = [
        lambda: by_email(ctx, ref, "suzuki", "AFFIRM"),
        lambda: by_slack(ctx, ref, "dorj", "negative", "The baseline is too high."),
        lambda: by_web(client, engine, ref, "tsetseg", "affirmative"),
        lambda: by_web(client, engine, ref, "dorj", "affirmative"),  # changes the slack negative
        lambda: by_email(ctx, ref, "tanaka", "OBJECT - the annex is missing"),
        lambda: by_slack(ctx, ref, "tanaka", "affirmative"),
    ]
    for step in steps:
        ctx.clock.advance(timedelta(hours=3))
        result = step()
        if result is not None:
            await result
    mid = same(ctx, engine, tmp_path, ref)
    assert mid["channels"] == ["email", "slack", "web", "web", "email", "slack"]
    assert mid["verdict"].status == "objected"  # negatives within the period count, though changed
    # The rest affirm, by every channel: unanimity, at the last assertion.
    ctx.clock.advance(timedelta(hours=3))
    by_email(ctx, ref, "sato", "AFFIRM")
    ctx.clock.advance(timedelta(hours=3))
    await by_web(client, engine, ref, "bat", "affirmative")
    last = ctx.clock.now()
    end = same(ctx, engine, tmp_path, ref)
    assert (end["verdict"].status, end["verdict"].basis, end["verdict"].adopted_at) == ("adopted", "unanimous", last)
    # And at the deadline, long after: nothing changes.
    ctx.clock.advance(timedelta(days=30))
    assert same(ctx, engine, tmp_path, ref)["verdict"].adopted_at == last
