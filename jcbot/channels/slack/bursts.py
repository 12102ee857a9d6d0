"""Clicks recorded by bursts, after the burst's acks, and what the members see of them drawn once.

Asserting (asserting.py) hands each Affirm click and each objection submitted to `Bursts.record`.
A burst's seats are read once per proposal and user (one thread hop), its clicks recorded
in the order they came (one user's clicks never race, so a double click finds the first
recorded), RECORD_HOP_S of them per transaction on SQLite (a group commit) with the other
writers' turn in between, then what the members see is drawn once: each message updated once
with its latest position, each App Home published once, every refusal told.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import blocks
from jcbot.channels.slack.commands import publish_home
from jcbot.channels.slack.compose import proposal_link
from jcbot.channels.slack.people import call, own_dm, refused, tell, who
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.intake import Outcome
from jcbot.services.intake import slack as slack_intake
from jcbot.services.intake.rules import as_error
from jcbot.services.queries import ProposalView, committees_of, show
from jcbot.services.roster_log import committee_rules
from jcbot.services.slack_identity import Identity, Seat, identify_linked

# A burst of clicks to record is over when none came for this long (seconds), or when its
# first has waited RECORD_WAIT_S: recording then does not slow the acks of the burst.
RECORD_QUIET_S = 0.05
RECORD_WAIT_S = 1.0
# Turns of the event loop given, once the clock says a burst is quiet, to requests already
# received: a click's bytes read in one turn reach its listener two or three turns later.
LOOP_TURNS = 5
# Recording a burst holds the write lock: each RECORD_HOP_S of clicks is one transaction
# (a group commit), and after each the other writers (the dispatcher sending the receipts,
# a sweep) get WRITERS_TURN_S, longer than the longest sleep of SQLite's busy handler, to
# take their turn.
RECORD_HOP_S = 1.0
WRITERS_TURN_S = 0.11


class Told(Exception):
    """A click refused before the intake (unknown proposal, not a member): what the member is told."""


def not_seated(ref: str) -> str:
    return f"Only members of the Joint Committee assert on {ref}, and jcbot does not know you as one. " \
           "Nothing was recorded."


@dataclass(eq=False)
class _Click:
    """One click (or modal submission) waiting to be recorded, and the future its listener awaits."""

    client: AsyncWebClient
    user: str
    place: dict
    ref: str
    version: int
    position: str
    opinion: str | None
    evidence: str
    shown: list[dict] | None  # the clicked message's blocks (None from the modal)
    at: float  # when it came (the event loop's clock)
    done: asyncio.Future
    seat: Seat | None = None


def _settle(click: _Click, error: BaseException | None) -> None:
    if not click.done.done():
        if error is None:
            click.done.set_result(None)
        else:
            click.done.set_exception(error)


def _seats_of(ctx: ServiceContext, refs: set[str], users: set[str]) -> tuple[dict[str, int | Told],
                                                                          dict[str, Identity]]:
    """Each proposal's committee id (or the refusal to tell) and each user's identity from the stored
    links: what a burst's seats are found from, read in one thread hop."""
    committees = {ref: Told(refused(found)) if isinstance(found, ServiceError) else found
                  for ref, found in committees_of(ctx, refs).items()}
    return committees, identify_linked(ctx, users)


def _record_in_order(ctx: ServiceContext, clicks: list[_Click], budget_s: float,
                     together: bool) -> list[Outcome | Exception]:
    """The first clicks through the Slack intake, in order, for about `budget_s`.

    `together` (SQLite, whose writers take turns anyway): in one transaction, a group
    commit; a click that fails is rolled back alone (its exception is its result), and
    if the transaction itself fails nothing of it was recorded and every click waiting
    is told. Otherwise a transaction each: one user's burst holding the locks of several
    proposals until its commit could deadlock with another user's, recorded side by side.
    """
    burst = []
    for c in clicks:
        assert c.seat is not None
        burst.append(slack_intake.Click(c.user, c.seat.handle, c.ref, c.version, c.position, c.opinion, c.evidence))
    if together:
        try:
            return slack_intake.clicks(ctx, burst, budget_s)
        except Exception as error:  # noqa: BLE001 - raised in each click's listener
            return [error] * len(clicks)
    out: list[Outcome | Exception] = []
    end = time.monotonic() + budget_s
    for one in burst:
        if out and time.monotonic() > end:
            break
        try:
            out.append(slack_intake.clicks(ctx, [one])[0])
        except Exception as error:  # noqa: BLE001 - raised in that click's listener, the others go on
            out.append(error)
    return out


def proposal_data(view: ProposalView, tz: str | None) -> dict:
    """A proposal view in the shape of notice data, to draw the distribution message again."""
    c, p, v = view.committee, view.proposal, view.version
    return {"committee": {"name": c.name, "timezone": c.timezone}, "recipient": {"timezone": tz},
            "proposal": {"ref": p.ref, "version": v.version, "title": v.title, "text": v.text, "items": list(view.items),
                         "deadline": v.deadline.isoformat() if v.deadline else None, "status": v.status,
                         "period_days": committee_rules(c).electronic_decision.objection_period_days}}


class Bursts:
    """The clicks waiting to be recorded, the task recording them burst after burst, and the displays."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._waiting: list[_Click] = []
        self._recorder: asyncio.Task | None = None
        self._showing: asyncio.Task | None = None
        self._one_writer = ctx.engine.dialect.name == "sqlite"

    async def record(self, client: AsyncWebClient, user: str, place: dict, ref: str, version: int, position: str,
                     opinion: str | None, evidence: str, shown: list[dict] | None) -> None:
        """Join the burst waiting to be recorded; return once recorded and shown (or raise what prevented either)."""
        loop = asyncio.get_running_loop()
        click = _Click(client, user, place, ref, version, position, opinion, evidence, shown, loop.time(),
                       loop.create_future())
        self._waiting.append(click)
        if self._recorder is None:
            self._recorder = asyncio.create_task(self._record_bursts(), name="slack-assertions")
        await click.done

    async def _record_bursts(self) -> None:
        """Record what waits, burst after burst, until nothing does."""
        try:
            while self._waiting:
                await self._burst_over()
                burst, self._waiting = self._waiting, []
                try:
                    outcomes = await self._record_burst(burst)
                except Exception as error:  # noqa: BLE001 - each click's listener reports it, as bolt does
                    for click in burst:
                        _settle(click, error)
                    continue
                # The displays of one burst after those of the one before (the latest state last),
                # while the next burst is recorded.
                self._showing = asyncio.create_task(self._show(burst, outcomes, self._showing))
        finally:
            self._recorder = None

    async def _burst_over(self) -> None:
        """Return once no click came for RECORD_QUIET_S, or the oldest waiting has waited RECORD_WAIT_S.

        Quiet by the clock is not enough: when the event loop was held up (the process off the
        CPU, a long callback), the clicks sent meanwhile are read in the same turn as the timer
        saying the burst is quiet, and reach their listener a few turns later. Recording then
        would take the interpreter from the acks still to come, so those turns are waited for.
        """
        loop = asyncio.get_running_loop()
        while True:
            cap = self._waiting[0].at + RECORD_WAIT_S
            if (wait := min(self._waiting[-1].at + RECORD_QUIET_S, cap) - loop.time()) > 0:
                await asyncio.sleep(wait)
                continue
            seen = len(self._waiting)
            if loop.time() >= cap:
                return
            for _ in range(LOOP_TURNS):
                await asyncio.sleep(0)
            if len(self._waiting) == seen:
                return

    async def _record_burst(self, burst: list[_Click]) -> list[Outcome | Exception]:
        """Each click's seat (read once per proposal and user), then each recorded, in the order they came."""
        committees, identities = await call(_seats_of, self.ctx, {c.ref for c in burst}, {c.user for c in burst})
        results: list[Outcome | Exception] = [Told("")] * len(burst)
        chains: dict[str, list[int]] = {}
        for i, c in enumerate(burst):
            committee_id = committees[c.ref]
            if isinstance(committee_id, Told):
                results[i] = committee_id
                continue
            found = identities[c.user]
            if not (found.seat_in(committee_id) or found.oversees(committee_id)):
                # Not known by the stored links: `who` asks Slack for the email (once per user and committee).
                try:
                    found = identities[c.user] = await who(self.ctx, c.client, c.user, committee_id)
                except Exception as error:  # noqa: BLE001 - raised in that click's listener, the others go on
                    results[i] = error
                    continue
            c.seat = found.seat_in(committee_id)
            if c.seat is None:
                results[i] = Told(not_seated(c.ref))
                continue
            # On SQLite, whose writers take turns anyway, all in one transaction per hop, one after the
            # other (transactions started side by side would only wait in its busy handler, which sleeps);
            # elsewhere each user's clicks in order, the users side by side.
            chains.setdefault("" if self._one_writer else c.user, []).append(i)
        recorded = await asyncio.gather(*(self._record_chain([burst[i] for i in chain]) for chain in chains.values()))
        for chain, outcomes in zip(chains.values(), recorded):
            for i, outcome in zip(chain, outcomes):
                results[i] = outcome
        return results

    async def _record_chain(self, clicks: list[_Click]) -> list[Outcome | Exception]:
        """Clicks recorded in order, RECORD_HOP_S at a time, the other writers' turn in between."""
        outcomes: list[Outcome | Exception] = []
        while True:
            outcomes += await call(_record_in_order, self.ctx, clicks[len(outcomes):], RECORD_HOP_S,
                                   self._one_writer)
            if len(outcomes) == len(clicks):
                return outcomes
            await asyncio.sleep(WRITERS_TURN_S)

    async def _show(self, burst: list[_Click], outcomes: list[Outcome | Exception],
                    before: asyncio.Task | None) -> None:
        """What the members see of a burst: each refusal told, each message updated once, each App Home once."""
        if before is not None:
            await asyncio.wait([before])
        try:
            shows = await self._plan(burst, outcomes)
            results = await asyncio.gather(*(asyncio.gather(*s) for s in shows), return_exceptions=True)
        except Exception as error:  # noqa: BLE001 - each click's listener reports it
            results = [error] * len(burst)
        for c, result in zip(burst, results):
            _settle(c, result if isinstance(result, BaseException) else None)

    async def _plan(self, burst: list[_Click], outcomes: list[Outcome | Exception]) -> list[list[Awaitable]]:
        """For each click, what shows it: an answer of its own, or the update or App Home it shares."""
        shows: list[list[Awaitable]] = [[] for _ in burst]
        messages: dict[tuple, list[int]] = {}  # message -> the clicks recorded on it, in order
        homes: dict[str, list[int]] = {}  # user -> the clicks recorded from their App Home
        # Each clicker's DM with jcbot, asked of Slack side by side the first time (then remembered).
        clickers = {c.user: c.client for c, out in zip(burst, outcomes) if c.place.get("type") == "message"
                    and isinstance(out, Outcome) and out.recorded is not None and not out.recorded.duplicate}
        dms = dict(zip(clickers, await asyncio.gather(*(own_dm(client, user) for user, client in clickers.items()),
                                                      return_exceptions=True)))
        for i, (c, out) in enumerate(zip(burst, outcomes)):
            if isinstance(out, Told):
                shows[i].append(tell(c.client, c.user, c.place, str(out)))
            elif isinstance(out, Exception):
                _settle(c, out)
            elif out.outcome == "refused":
                assert out.stop is not None
                shows[i].append(tell(c.client, c.user, c.place, refused(as_error(out.stop))))
            elif out.recorded is None or out.recorded.duplicate:  # a double click or a Slack retry: said once
                shows[i].append(tell(c.client, c.user, c.place,
                                     f"Already recorded: your position on {c.ref} is {c.position}."))
            elif c.place.get("type") != "message":
                homes.setdefault(c.user, []).append(i)
            elif isinstance(dms[c.user], BaseException):
                _settle(c, dms[c.user])  # type: ignore[arg-type]
            elif c.place.get("channel") != dms[c.user]:
                # The payload names a message outside this member's DM with jcbot: recorded, said to them alone.
                assert out.case is not None and out.case.committee is not None and c.seat is not None
                at, tz = out.case.when, c.seat.timezone or out.case.committee.timezone
                shows[i].append(tell(c.client, c.user, {},
                                     f"{c.ref}: your position is {c.position}, recorded {blocks.when(at, tz)}."))
            else:
                messages.setdefault((c.place.get("channel"), c.place.get("ts"), c.ref), []).append(i)
        for clicks in messages.values():  # drawn once, with the last position recorded on it
            update = asyncio.ensure_future(self._update(burst[clicks[-1]], outcomes[clicks[-1]]))  # type: ignore[arg-type]
            for i in clicks:
                shows[i].append(update)
        for user, clicks in homes.items():  # published once, after the burst's last change
            home = asyncio.ensure_future(publish_home(self.ctx, burst[clicks[-1]].client, user))
            for i in clicks:
                shows[i].append(home)
        return shows

    async def _update(self, c: _Click, out: Outcome) -> None:
        """The clicked message drawn again with the member's position."""
        assert out.case is not None and out.case.committee is not None and out.recorded is not None
        assert c.seat is not None
        at, tz, done = out.case.when, c.seat.timezone or out.case.committee.timezone, out.recorded
        shown = c.shown
        if shown is None:  # from the modal: the message's blocks are not in the payload; draw them again
            shown = blocks.distribution(proposal_data(await call(show, self.ctx, c.ref), tz),
                                        proposal_link(self.ctx.settings, c.ref))
        updated = blocks.with_position(shown, c.ref, c.version, c.position, blocks.when(at, tz), c.opinion,
                                       open_=done.status in blocks.OPEN and not done.ignored)
        await c.client.chat_update(channel=c.place["channel"], ts=c.place["ts"], blocks=updated,
                                   text=f"{c.ref}: your position is {c.position}")
