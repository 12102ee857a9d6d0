"""The HTTP channel: a registry notification POSTed as JSON to the registry's endpoint.

Rendered at dispatch like every notice (the outbox holds the notice); any answer but a
2xx, a timeout or a refused connection is a temporary failure, so the outbox retries with
its backoff until the registry acknowledges (PROJECT_CYCLE, Issuance 3: "retried until
acknowledged"; a registry's 4xx is most often a registry not ready yet, and giving up
would lose a notification nobody else sends). The outbox key goes along as
`Idempotency-Key`, the same on every attempt, so a registry can fold a repeat.
"""
from __future__ import annotations

import errno
import json

from jcbot.services import outgoing
from jcbot.services.context import Notice, Rendered
from jcbot.services.dispatcher import TemporaryFailure
from jcbot.store.outbox import Outgoing

TIMEOUT_S = 30.0
# How much of a refusal's body the reason keeps (it shows in `jcbot outbox list` and on the dashboard).
BODY_IN_REASON = 200


class HttpRenderer:
    """Shapes the notices an HTTP endpoint takes (registry notifications): the JSON record to POST."""

    channel = "http"

    def __init__(self, settings=None) -> None:
        self.settings = settings

    def render(self, notice: Notice) -> list[Rendered]:
        """The URL and JSON body for `notice`, or nothing when it has no endpoint."""
        url = outgoing.address("http", notice, self.settings)
        if not url:
            return []
        return [Rendered("http", url, {"url": url, "json": notice.data.get("notification") or {}})]


class HttpSender:
    """POSTs an outbox message's JSON to its URL; returning means a 2xx came back."""

    def __init__(self, renderer: HttpRenderer | None = None, timeout: float = TIMEOUT_S) -> None:
        self.renderer = renderer or HttpRenderer()
        self.timeout = timeout

    def body(self, message: Outgoing) -> tuple[str, dict]:
        """The URL and JSON to send for an outbox message."""
        if outgoing.is_notice(message.payload):
            rendered = self.renderer.render(outgoing.from_payload(message.payload))
            if rendered:
                return rendered[0].payload["url"], rendered[0].payload["json"]
        return message.recipient, dict(message.payload.get("json") or {})

    async def send(self, message: Outgoing) -> None:
        """POST the record; raise TemporaryFailure (with its reason) unless the endpoint answers 2xx."""
        url, body = self.body(message)
        data = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.dedupe_key}
        import aiohttp  # when a registry is first notified: about 9 MiB that an idle `serve` does without

        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as session:
                async with session.post(url, data=data, headers=headers, allow_redirects=False) as response:
                    if 200 <= response.status < 300:
                        return
                    text = " ".join((await response.text(errors="replace")).split())[:BODY_IN_REASON]
                    retry = response.headers.get("Retry-After", "").strip()
                    raise TemporaryFailure(
                        f"POST {url} answered {response.status} {response.reason or ''}".rstrip()
                        + (f": {text}" if text else ""),
                        float(retry) if retry.isdigit() else None)
        except TimeoutError:
            raise TemporaryFailure(f"POST {url}: no answer within {self.timeout:g} s") from None
        except aiohttp.ClientConnectorError as error:
            raise TemporaryFailure(f"POST {url}: could not connect ({_why(error.os_error)})") from None
        except (aiohttp.ClientError, ValueError) as error:
            # ValueError: a URL aiohttp cannot use; the operator fixes it with `jcbot registry set`.
            raise TemporaryFailure(f"POST {url}: {type(error).__name__}: {error}") from None


def _why(error: OSError) -> str:
    """A refused connection said plainly; any other network error as the system words it."""
    if isinstance(error, ConnectionRefusedError) or getattr(error, "errno", None) == errno.ECONNREFUSED:
        return "connection refused"
    return error.strerror or str(error)
