"""The co-chairs' answers to an escalation: revise and redistribute, withdraw, refer, leave open."""
from __future__ import annotations

import json

from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import blocks, modals
from jcbot.channels.slack.people import call, own_dm, place_of, refused, tell, who
from jcbot.core.errors import ProcedureError
from jcbot.services import proposals
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.escalation import leave_open
from jcbot.services.queries import committee_of, show

REFUSALS = (ServiceError, ProcedureError)
DONE = {"withdraw": "withdrawn", "refer": "referred to a meeting or a call", "leave_open": "left open"}


def _action(verb: str):
    # Each takes (ctx, ref, actor, by=...); the services check that `by` speaks for a seat.
    if verb == "withdraw":
        return lambda ctx, ref, actor, by: proposals.withdraw(ctx, ref, actor, by=by)
    if verb == "refer":
        return lambda ctx, ref, actor, by: proposals.refer(ctx, ref, actor, by=by)
    return lambda ctx, ref, actor, by: leave_open(ctx, ref, actor, by=by)


class CoChairs:
    """Turns the escalation buttons and the revision modal into proposal services."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def _check(self, client: AsyncWebClient, user: str, place: dict, ref: str, version: int):
        """The clicking member if the message still concerns the current version, else None (answered)."""
        try:
            committee_id = await call(committee_of, self.ctx, ref)
            view = await call(show, self.ctx, ref)
        except ServiceError as refusal:
            await tell(client, user, place, refused(refusal, "Nothing was done."))
            return None, None
        seat = (await who(self.ctx, client, user, committee_id)).seat_in(committee_id)
        if seat is None:
            await tell(client, user, place, f"Only the co-chairs of the Joint Committee act on {ref}. Nothing was done.")
            return None, None
        if view.version.version != version:
            await tell(client, user, place, f"{ref} is at version {view.version.version} now; this message is about "
                                            f"version {version}. Nothing was done.")
            return None, None
        return seat, view

    async def click(self, body: dict, client: AsyncWebClient) -> None:
        """Withdraw, Refer, Leave open at once; Revise opens the modal."""
        verb, ref, version = blocks.parse_action(body["actions"][0]["action_id"])
        user, place = body["user"]["id"], place_of(body)
        seat, view = await self._check(client, user, place, ref, version)
        if seat is None:
            return
        if verb == "revise":
            modal = modals.revise_modal(ref, version, view.version.title, view.version.text, {"place": place})
            await client.views_open(trigger_id=body["trigger_id"], view=modal)
            return
        try:
            await call(_action(verb), self.ctx, ref, f"slack:{user}", by=seat.handle)
        except REFUSALS as refusal:
            await tell(client, user, place, refused(refusal, "Nothing was done."))
            return
        done = f"{ref} {DONE[verb]} by {blocks.esc(seat.name)} at {blocks.when(self.ctx.clock.now(), seat.timezone)}."
        shown = (body.get("message") or {}).get("blocks")
        own = place.get("type") == "message" and place.get("channel") == await own_dm(client, user)
        if own and shown:
            await client.chat_update(channel=place["channel"], ts=place["ts"], text=done,
                                     blocks=blocks.cochair_done(shown, done))
        else:  # a message outside their DM with jcbot is not theirs to change
            await tell(client, user, place if own or place.get("type") != "message" else {}, done)

    async def submit_revision(self, body: dict, view: dict, client: AsyncWebClient) -> None:
        """The revision modal: a new version, distributed at once."""
        _, ref, version = blocks.parse_action(view["callback_id"])
        user = body["user"]["id"]
        place = json.loads(view.get("private_metadata") or "{}").get("place") or {}
        seat, _ = await self._check(client, user, place, ref, version)
        if seat is None:
            return
        try:
            new = await call(proposals.revise, self.ctx, ref, f"slack:{user}", title=modals.view_value(view, "title"),
                             text=modals.view_value(view, "text"), by=seat.handle)
        except REFUSALS as refusal:
            await tell(client, user, place, refused(refusal, "Nothing was done."))
            return
        await tell(client, user, place, f"{ref} version {new.version} was distributed by {blocks.esc(seat.name)}; "
                                        f"version {version} is superseded.")
