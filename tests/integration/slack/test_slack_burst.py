"""A burst of one member's clicks on several proposals: every one recorded, the displays current once it settles.

Clicks are recorded by bursts and what they change on screen is drawn once per burst
(jcbot/channels/slack/bursts.py): each message updated with its latest position, the
App Home published once. Here sato clicks, all at once: Affirm on two proposals' DMs
(one twice, a double click), Affirm on one of them and its Object... pop-up submitted,
Affirm from the App Home on four more, and Affirm on a withdrawn proposal's DM. Once as
a burst is recorded, and once with every click recorded in a thread hop of its own (the
other writers' turn in between), as a long burst is.
"""
from __future__ import annotations

import asyncio
import time

import pytest

from jcbot.channels.slack import bursts
from jcbot.services import proposals

from .helpers import SLACK, action_ids, all_text, dispatch, posted_to, shown

SATO = SLACK["sato"]
HOME = {"type": "view", "view_id": "VHOME"}


def in_dm(ts: str) -> dict:
    return {"type": "message", "channel_id": f"D{SATO}", "message_ts": ts, "is_ephemeral": False}


def distribute(ctx, n: int) -> str:
    p = proposals.draft(ctx, "japan-mongolia", f"Approve methodology MN_AM10{n}", "The Joint Committee approves it.",
                        [proposals.Item("methodology_approval", f"Methodology {n}")], "test")
    proposals.distribute(ctx, p.ref, "test")
    return p.ref


async def settled(check, what: str, timeout: float = 60) -> None:
    """Wait until `check()` holds (the burst's displays come after its acks)."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, f"never settled: {what}"
        await asyncio.sleep(0.05)


def latest_position(ctx, ref: str) -> str | None:
    mine = [a for a in shown(ctx, ref).assertions if a.member == "sato"]
    return max(mine, key=lambda a: (a.at, a.id)).position if mine else None


@pytest.mark.parametrize("hop_s", [bursts.RECORD_HOP_S, 0.0], ids=["one-hop", "hop-per-click"])
async def test_a_burst_of_one_members_clicks_records_all_and_leaves_every_display_current(ctx, ref, fake_slack,
                                                                                          slack_http, monkeypatch,
                                                                                          hop_s):
    monkeypatch.setattr(bursts, "RECORD_HOP_S", hop_s)
    refs = [ref] + [distribute(ctx, n) for n in range(6)]
    while await dispatch(ctx):  # a pass sends a batch at most
        pass
    dm = {r: next(m["blocks"] for m in posted_to(fake_slack, SATO) if f"jc.affirm|{r}|1" in action_ids(m.get("blocks") or []))
          for r in refs}
    both, double, gone, homes = refs[0], refs[1], refs[2], refs[3:]
    proposals.withdraw(ctx, gone, "test", by="bat")
    ts = {r: f"1700000000.{i:06d}" for i, r in enumerate(refs, 1)}
    # The Object... pop-up of `both`, opened before the burst; its submission is part of it.
    await slack_http.interact(slack_http.click(SATO, f"jc.object|{both}|1", dm[both], container=in_dm(ts[both])))
    opened = (await fake_slack.wait_for_async("views.open"))[0].body["view"]

    burst = [slack_http.click(SATO, f"jc.affirm|{r}|1", dm[r], container=in_dm(ts[r])) for r in (both, double, double)]
    burst += [slack_http.click(SATO, f"jc.affirm|{r}|1", dm[r], container=HOME) for r in homes]
    burst += [slack_http.click(SATO, f"jc.affirm|{gone}|1", dm[gone], container=in_dm(ts[gone])),
              slack_http.submission(SATO, opened, {"opinion": "The baseline is too high."})]
    answers = await asyncio.gather(*(slack_http.interact(c) for c in burst))
    assert [a.status_code for a in answers] == [200] * len(burst)

    # Every assertion recorded once: both positions on `both`, one affirmative on the others.
    expected = {both: ["affirmative", "negative"], double: ["affirmative"], gone: []} | {r: ["affirmative"] for r in homes}

    def mine() -> dict[str, list[str]]:
        return {r: sorted(a.position for a in shown(ctx, r).assertions if a.member == "sato") for r in refs}

    await settled(lambda: mine() == expected, "every click recorded")
    await asyncio.sleep(0.5)  # and nothing more comes
    assert mine() == expected

    # Each clicked message shows the position recorded last on it (the one drawn last).
    def message_current(r: str) -> bool:
        updates = [c.body for c in fake_slack.calls("chat.update") if c.body["ts"] == ts[r]]
        return bool(updates) and f"Your position: *{latest_position(ctx, r)}*" in all_text(updates[-1]["blocks"])

    await settled(lambda: message_current(both) and message_current(double), "the messages drawn again")
    assert {c.body["channel"] for c in fake_slack.calls("chat.update")} == {f"D{SATO}"}
    assert {c.body["ts"] for c in fake_slack.calls("chat.update")} == {ts[both], ts[double]}

    # The App Home, published after the burst's changes, shows nothing left awaiting sato,
    # and was published fewer times than it was clicked from.
    def home_current() -> bool:
        published = fake_slack.calls("views.publish")
        return bool(published) and "Nothing awaits your assertion." in all_text(published[-1].body["view"]["blocks"])

    await settled(home_current, "the App Home published")
    assert {c.body["user_id"] for c in fake_slack.calls("views.publish")} == {SATO}
    assert 1 <= len(fake_slack.calls("views.publish")) < len(homes)

    # Refusals and the double click are told, to sato alone.
    def told() -> list[str]:
        return [c.body["text"] for c in fake_slack.calls("chat.postEphemeral")]

    await settled(lambda: len(told()) >= 2, "the refusal and the double click told")
    assert {c.body["user"] for c in fake_slack.calls("chat.postEphemeral")} == {SATO}
    assert f"Already recorded: your position on {double} is affirmative." in told()
    assert any(gone in t and "Nothing was recorded." in t for t in told()), told()


async def test_a_burst_quiet_by_the_clock_takes_in_the_clicks_already_on_their_way(ctx):
    # The event loop held up past the quiet time: the clicks read in the turn that ends the wait
    # reach their listener turns later. The burst takes them in instead of recording without them
    # (and taking the interpreter from their acks).
    loop = asyncio.get_running_loop()
    waiting = bursts.Bursts(ctx)

    def click(at: float) -> bursts._Click:
        return bursts._Click(None, SATO, {}, "JM-1", 1, "affirmative", None, f"test:{at}", None, at,  # type: ignore[arg-type]
                             loop.create_future())

    waiting._waiting = [click(loop.time() - 2 * bursts.RECORD_QUIET_S)]  # quiet by the clock already
    late = click(0.0)

    def arrives() -> None:
        late.at = loop.time()
        waiting._waiting.append(late)

    loop.call_soon(loop.call_soon, arrives)  # two turns from now, as a request read now reaches its listener
    await waiting._burst_over()
    assert len(waiting._waiting) == 2 and waiting._waiting[-1] is late
