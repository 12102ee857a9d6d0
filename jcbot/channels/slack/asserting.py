"""Members' clicks: Affirm records at once; Object... opens the modal whose submission records.

Recording goes by bursts (bursts.py): a click joins the burst waiting, which is recorded
after its acks and shown once.
"""
from __future__ import annotations

import asyncio
import json

from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import blocks, modals
from jcbot.channels.slack.bursts import Bursts, not_seated
from jcbot.channels.slack.people import call, place_of, refused, tell, who
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.queries import committee_of, show

# A burst of Object... clicks is over when no pop-up was asked for this long (seconds).
POPUP_QUIET_S = 0.25


class Asserting:
    """Turns Affirm / Object... into the Slack intake, once per click (recorded by bursts: bursts.py)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self._bursts = Bursts(ctx)
        # Pop-ups first. Slack drops a trigger_id after 3 s, so in a burst of Object... clicks
        # every views.open must go out before the checks that follow them: their database
        # reads hold the service threads and the interpreter (the GIL) that the next click's
        # request needs. So the checks wait until no pop-up has been asked for a moment
        # (POPUP_QUIET_S: the burst is over), and run one at a time.
        self._opening = 0
        self._last_popup = 0.0
        self._checks = asyncio.Semaphore(1)

    async def affirm(self, body: dict, client: AsyncWebClient) -> None:
        """A click on Affirm (or Change to Affirm)."""
        action = body["actions"][0]
        _, ref, version = blocks.parse_action(action["action_id"])
        user, place = body["user"]["id"], place_of(body)
        await self.record(client, user, place, ref, version, "affirmative", None,
                          f"slack:{action['action_ts']}:{user}", (body.get("message") or {}).get("blocks"))

    async def open_objection(self, body: dict, client: AsyncWebClient) -> None:
        """A click on Object...: the modal asking for the opinion, opened before any database work."""
        _, ref, version = blocks.parse_action(body["actions"][0]["action_id"])
        user, place = body["user"]["id"], place_of(body)
        loop = asyncio.get_running_loop()
        self._opening += 1
        self._last_popup = loop.time()
        try:
            opened = await client.views_open(trigger_id=body["trigger_id"],
                                             view=modals.objection_modal(ref, version, {"place": place}))
        finally:
            self._opening -= 1
            self._last_popup = loop.time()
        async with self._checks:
            await self._after_popups()
            why = await self._cannot_object(client, user, ref, version, place)
        if why is not None:
            # The pop-up is open: it says why instead of asking for an opinion (and so does a message).
            await client.views_update(view_id=opened["view"]["id"], view=modals.notice_modal("Not possible", why))
            await tell(client, user, place, why)

    async def _after_popups(self) -> None:
        """Return once no pop-up is being opened and none was asked for POPUP_QUIET_S."""
        loop = asyncio.get_running_loop()
        while (wait := self._last_popup + POPUP_QUIET_S - loop.time()) > 0 or self._opening:
            await asyncio.sleep(max(wait, POPUP_QUIET_S / 10))

    async def _cannot_object(self, client: AsyncWebClient, user: str, ref: str, version: int, place: dict) -> str | None:
        """Why this user cannot object to this version now (None if they can); the submission checks again."""
        try:
            committee_id = await call(committee_of, self.ctx, ref)
        except ServiceError as refusal:
            return refused(refusal)
        if (await who(self.ctx, client, user, committee_id)).seat_in(committee_id) is None:
            return not_seated(ref)
        view = await call(show, self.ctx, ref)
        if view.version.version != version or view.version.status not in blocks.OPEN:
            now = f"version {view.version.version} is {view.version.status}" if view.version.version != version else \
                f"it is {view.version.status}"
            return f"{ref}: this message is about version {version}, and {now}. Nothing was recorded."
        return None

    async def submit_objection(self, body: dict, view: dict, client: AsyncWebClient) -> None:
        """The modal's submission: a negative with its opinion."""
        _, ref, version = blocks.parse_action(view["callback_id"])
        user = body["user"]["id"]
        place = json.loads(view.get("private_metadata") or "{}").get("place") or {}
        await self.record(client, user, place, ref, version, "negative", modals.view_value(view, "opinion"),
                          f"slack:{view['id']}:{user}", None)

    async def record(self, client: AsyncWebClient, user: str, place: dict, ref: str, version: int, position: str,
                     opinion: str | None, evidence: str, shown: list[dict] | None) -> None:
        """Record the assertion (or refuse and say why), then show the position where the click came from.

        The click joins the burst waiting to be recorded; this returns once it is recorded
        and what the member sees of it is shown (or the error that prevented either).
        """
        await self._bursts.record(client, user, place, ref, version, position, opinion, evidence, shown)
