"""The slack-bolt AsyncApp: listeners of a few lines that acknowledge at once, then call services.

Every listener acks first (Slack wants an answer within 3 seconds) and does the work
after; the handlers in asserting.py, cochairs.py and commands.py turn payloads into
service calls, and blocks.py, modals.py and overview.py draw the answers.
"""
from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import commands, modals
from jcbot.channels.slack.asserting import Asserting
from jcbot.channels.slack.cochairs import CoChairs
from jcbot.services.context import ServiceContext

COMMAND = "/jc"
NEED_OPINION = "A negative must carry your opinion: write why you object."


def _authorize(client: AsyncWebClient, token: str) -> Callable[[], Awaitable[AuthorizeResult]]:
    """bolt's authorization of each request: Slack's auth.test, asked once and shared.

    bolt's own single-workspace authorization asks auth.test on every request until its
    first answer is back, so a burst of clicks right after a start (or after the warm-up
    was not one bolt saw) made as many auth.test calls as clicks, each holding its click's
    pop-up. Here one call is made at a time, its answer kept; a failed one is asked again
    by the next request.
    """
    lock = asyncio.Lock()
    known: list[AuthorizeResult] = []

    async def authorize() -> AuthorizeResult:
        if not known:
            async with lock:
                if not known:
                    response = await client.auth_test(token=token)
                    known.append(AuthorizeResult.from_auth_test_response(auth_test_response=response, bot_token=token))
        return known[0]

    return authorize


def build_app(ctx: ServiceContext, *, verify_signatures: bool = True) -> AsyncApp:
    """The Slack app of jcbot on the context's services.

    `verify_signatures=False` only for requests whose signature was checked before bolt
    (web/slack.Endpoint): bolt's check would hash every body a second time on the event loop.
    """
    s = ctx.settings
    if not s.slack_bot_token:
        raise ValueError("JCBOT_SLACK_BOT_TOKEN is not set: the Slack app cannot start")
    # The token is the authorization's (each request's client gets it from there).
    client = AsyncWebClient(base_url=s.slack_api_url)
    # Socket Mode needs no signing secret (Slack authenticates the socket); HTTP always has one.
    app = AsyncApp(client=client, authorize=_authorize(client, s.slack_bot_token),
                   signing_secret=s.slack_signing_secret or "",
                   request_verification_enabled=verify_signatures and bool(s.slack_signing_secret))
    asserting, cochairs = Asserting(ctx), CoChairs(ctx)

    @app.action(re.compile(r"^jc\.affirm\|"))
    async def affirm(ack, body, client):
        await ack()
        await asserting.affirm(body, client)

    @app.action(re.compile(r"^jc\.object\|"))
    async def object_(ack, body, client):
        await ack()
        await asserting.open_objection(body, client)

    @app.view(re.compile(r"^jc\.object\|"))
    async def objection(ack, body, view, client):
        if not modals.view_value(view, "opinion"):
            await ack(response_action="errors", errors={"opinion": NEED_OPINION})
            return
        await ack()
        await asserting.submit_objection(body, view, client)

    @app.action(re.compile(r"^jc\.(revise|withdraw|refer|leave_open)\|"))
    async def cochair(ack, body, client):
        await ack()
        await cochairs.click(body, client)

    @app.view(re.compile(r"^jc\.revise\|"))
    async def revision(ack, body, view, client):
        if not modals.view_value(view, "title"):
            await ack(response_action="errors", errors={"title": "The new version needs a title."})
            return
        await ack()
        await cochairs.submit_revision(body, view, client)

    @app.command(COMMAND)
    async def jc(ack, command, respond, client):
        await ack()
        text, body = await commands.answer(ctx, client, command["user_id"], command.get("text") or "")
        await respond(text=text, blocks=body, response_type="ephemeral", replace_original=False)

    @app.event("app_home_opened")
    async def home(event, client):
        if event.get("tab", "home") == "home":
            await commands.publish_home(ctx, client, event["user"])

    return app
