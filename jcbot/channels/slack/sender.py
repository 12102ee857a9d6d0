"""The outbox dispatcher's Slack sender: one Web API call per message, failures classified."""
from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import keepalive
from jcbot.channels.slack.compose import SlackRenderer
from jcbot.services.dispatcher import PermanentFailure, TemporaryFailure
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing

log = logging.getLogger(__name__)
# The message metadata jcbot sets on every post: how a resend finds the first copy.
EVENT_TYPE = "jcbot_notice"
# How far before the interrupted attempt the history is read (clocks of jcbot and Slack
# differ a little), and how many pages of it at most.
HISTORY_MARGIN = timedelta(minutes=5)
HISTORY_PAGES = 5

# Slack errors that say "later", not "never" (https://api.slack.com/web#errors).
TRANSIENT = frozenset({
    "ratelimited", "rate_limited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
    "team_added_to_org", "accesslimited",
})


def retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (case-insensitive), if there is one."""
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def classify(error: SlackApiError) -> TemporaryFailure | PermanentFailure:
    """What a Slack API error means for the outbox: try again (when) or give up (why)."""
    response = error.response
    status = getattr(response, "status_code", None)
    data = response.data if isinstance(getattr(response, "data", None), dict) else {}
    code = data.get("error") or f"HTTP {status}"
    if status == 429:
        return TemporaryFailure(f"slack: {code} (HTTP 429)", retry_after=retry_after(response.headers))
    if code in TRANSIENT or (status is not None and status >= 500):
        return TemporaryFailure(f"slack: {code}", retry_after=retry_after(response.headers))
    # channel_not_found, user_not_found, invalid_auth, not_in_channel, invalid_blocks...:
    # sending again cannot help until someone fixes the cause (then `requeue`).
    return PermanentFailure(f"slack: {code}")


class SlackSender:
    """Renders an outbox message (SlackRenderer) and makes the Web API call(s), failures classified."""

    def __init__(self, settings: Settings, client: AsyncWebClient | None = None,
                 renderer: SlackRenderer | None = None) -> None:
        if not settings.slack_bot_token:
            raise ValueError("JCBOT_SLACK_BOT_TOKEN is not set: Slack messages cannot be sent")
        self.client = client or AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
        self.renderer = renderer or SlackRenderer(settings)

    def calls(self, message: Outgoing) -> list[dict]:
        """The Web API calls of a message, rendered now; PermanentFailure if it reaches no one on Slack now."""
        calls = self.renderer.for_outbox(message)
        if not calls:
            raise PermanentFailure(f"slack: the {message.kind} notice reaches no one on Slack now (no Slack user "
                                   "id, or no JCBOT_SLACK_CHANNEL for a committee post); nothing was sent")
        return calls

    async def send(self, message: Outgoing) -> None:
        """Deliver one message; raises TemporaryFailure or PermanentFailure."""
        keepalive.keep_alive(self.client)  # serve's pooled connections, if it started a pool
        for call in self.calls(message):
            await self._call(message, call)

    async def _call(self, message: Outgoing, call: dict) -> None:
        method = call.get("method")
        arguments = call.get("arguments")
        if not method or not isinstance(arguments, dict):
            raise PermanentFailure("slack: the payload has no 'method' and 'arguments'")
        if method == "chat.postMessage" and "metadata" not in arguments:
            arguments = {**arguments, "metadata": metadata(message.dedupe_key)}
        try:
            await self.client.api_call(method, json=arguments)
        except SlackApiError as error:
            raise classify(error) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TemporaryFailure(f"slack: {type(error).__name__}: {error}") from error

    async def already_delivered(self, message: Outgoing) -> bool:
        """Whether an interrupted earlier post of `message` is in its conversation (by metadata)."""
        keepalive.keep_alive(self.client)
        try:
            call = self.calls(message)[0]
        except PermanentFailure:
            return False  # nothing to post now: send() says why
        arguments = call.get("arguments")
        channel = arguments.get("channel") if isinstance(arguments, dict) else None
        # Only a post can repeat; chat.update and the like land the same however often.
        if call.get("method") != "chat.postMessage" or not isinstance(channel, str) or not channel:
            return False
        try:
            return await self._find(channel, message)
        except SlackApiError as error:
            failure = classify(error)
            if isinstance(failure, TemporaryFailure):
                raise failure from error
            # missing_scope (channels:history, groups:history, im:history), not_in_channel...:
            # posting again risks a duplicate, not posting risks a lost notice; the
            # duplicate is the lesser harm.
            log.warning("event=slack.history_unreadable message=%s channel=%s reason=%r: posting again",
                        message.id, channel, failure.reason)
            return False
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TemporaryFailure(f"slack: {type(error).__name__}: {error}") from error

    async def _find(self, channel: str, message: Outgoing) -> bool:
        if channel[:1] in ("U", "W"):
            # A post to a user id lands in the app's DM with them: its history is the D... channel.
            opened = await self.client.conversations_open(users=channel)
            channel = opened["channel"]["id"]
        params = {"channel": channel, "limit": 200, "include_all_metadata": True}
        if message.maybe_sent_at is not None:
            params["oldest"] = f"{(message.maybe_sent_at - HISTORY_MARGIN).timestamp():.6f}"
        for _ in range(HISTORY_PAGES):
            page = await self.client.conversations_history(**params)
            if any(landed(m, message.dedupe_key) for m in page.get("messages") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return False
            params["cursor"] = cursor
        return False


def metadata(key: str) -> dict:
    """The message metadata of a post: jcbot's event type and the outbox dedupe key."""
    return {"event_type": EVENT_TYPE, "event_payload": {"key": key}}


def landed(posted: object, key: str) -> bool:
    """Whether a message from conversations.history is jcbot's post of dedupe key `key`."""
    meta = posted.get("metadata") if isinstance(posted, dict) else None
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return isinstance(payload, dict) and meta.get("event_type") == EVENT_TYPE and payload.get("key") == key
