"""The glue every listener shares: who clicked, where to answer, and refusing politely."""
from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jcbot.services.context import ServiceContext
from jcbot.services.slack_identity import Identity, identify

log = logging.getLogger(__name__)


async def call(fn, ctx: ServiceContext, *args, **kwargs):
    """Run a (synchronous, database) service call `fn(ctx, ...)` off the event loop, in the context's pool."""
    return await ctx.run(fn, ctx, *args, **kwargs)


async def slack_email(client: AsyncWebClient, user_id: str) -> str | None:
    """The email Slack reports for a user (needs the users:read.email scope), or None."""
    try:
        response = await client.users_info(user=user_id)
    except SlackApiError as error:
        log.warning("slack: users.info %s: %s", user_id, error.response.get("error"))
        return None
    return ((response.get("user") or {}).get("profile") or {}).get("email")


async def who(ctx: ServiceContext, client: AsyncWebClient, user_id: str, committee_id: int | None = None) -> Identity:
    """The user's identity; asks Slack for their email only when the stored links do not suffice."""
    found = await call(identify, ctx, user_id)
    enough = found.known if committee_id is None else (found.seat_in(committee_id) or found.oversees(committee_id))
    if enough:
        return found
    email = await slack_email(client, user_id)
    return await call(identify, ctx, user_id, email) if email else found


# Each user's DM with jcbot, as conversations.open names it: a click may change a message
# only there (a payload naming another member's DM must not rewrite it).
_DMS: dict[str, str] = {}


async def own_dm(client: AsyncWebClient, user_id: str) -> str | None:
    """The id of the user's DM with jcbot (asked once, then cached), or None if Slack cannot say now."""
    if user_id not in _DMS:
        try:
            opened = await client.conversations_open(users=user_id)
        except SlackApiError as error:
            log.warning("slack: conversations.open %s: %s", user_id, error.response.get("error"))
            return None
        channel = (opened.get("channel") or {}).get("id")
        if not isinstance(channel, str):
            return None
        _DMS[user_id] = channel
    return _DMS[user_id]


def refused(error: Exception, outcome: str = "Nothing was recorded.") -> str:
    """A service's refusal as one answer: what was wrong, then that nothing changed."""
    return f"{str(error).rstrip('.')}. {outcome}"


def place_of(body: dict) -> dict:
    """Where an interaction came from: a message (channel and ts) or a view (App Home, modal)."""
    c = body.get("container") or {}
    if c.get("type") == "message" and not c.get("is_ephemeral"):
        return {"type": "message", "channel": c.get("channel_id"), "ts": c.get("message_ts")}
    return {"type": c.get("type") or "view", "channel": c.get("channel_id") or (body.get("channel") or {}).get("id")}


async def tell(client: AsyncWebClient, user_id: str, place: dict, text: str) -> None:
    """Answer only the user: ephemeral where they clicked, else a direct message."""
    try:
        if place.get("channel"):
            await client.chat_postEphemeral(channel=place["channel"], user=user_id, text=text)
        else:
            await client.chat_postMessage(channel=user_id, text=text)
    except SlackApiError as error:
        log.warning("slack: could not answer %s: %s (%s)", user_id, error.response.get("error"), text)
