"""The outbox dispatcher's Slack sender: one Web API call per message, failures classified."""
from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from jcbot.services.dispatcher import PermanentFailure, TemporaryFailure
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing

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
    """Calls the Web API method an outbox payload names, with its arguments."""

    def __init__(self, settings: Settings, client: AsyncWebClient | None = None) -> None:
        if not settings.slack_bot_token:
            raise ValueError("JCBOT_SLACK_BOT_TOKEN is not set: Slack messages cannot be sent")
        self.client = client or AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)

    async def send(self, message: Outgoing) -> None:
        """Deliver one message; raises TemporaryFailure or PermanentFailure."""
        method = message.payload.get("method")
        arguments = message.payload.get("arguments")
        if not method or not isinstance(arguments, dict):
            raise PermanentFailure("slack: the payload has no 'method' and 'arguments'")
        try:
            await self.client.api_call(method, json=arguments)
        except SlackApiError as error:
            raise classify(error) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise TemporaryFailure(f"slack: {type(error).__name__}: {error}") from error
