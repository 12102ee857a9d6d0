"""`/jc pending | show REF | help` and the App Home: read-only views by role."""
from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from jcbot.channels.slack import overview
from jcbot.channels.slack.people import call, who
from jcbot.services.context import ServiceContext, ServiceError
from jcbot.services.queries import pending, recent_decisions, show


async def answer(ctx: ServiceContext, client: AsyncWebClient, user: str, text: str) -> tuple[str, list[dict]]:
    """(fallback text, blocks) answering `/jc TEXT` for a user."""
    words = text.split()
    verb = words[0].lower() if words else "pending"  # the bare command is the question co-chairs ask most
    if verb == "help":
        return "jcbot commands", [overview.section(overview.HELP)]
    if verb == "pending" and len(words) <= 1:
        identity = await who(ctx, client, user)
        views = await call(pending, ctx)
        return "Pending proposals", overview.pending_blocks(identity, views, ctx.clock.now())
    if verb == "show" and len(words) == 2:
        ref = words[1].upper()
        try:
            view = await call(show, ctx, ref)
        except ServiceError as refusal:
            return str(refusal), [overview.section(f"{refusal}. Type `/jc pending` to see the open proposals.")]
        identity = await who(ctx, client, user, view.committee.id)
        return ref, overview.show_blocks(identity, view, ctx.clock.now())
    return "Unknown command", [overview.section(f"I do not know `/jc {overview.esc(text)}`.\n\n{overview.HELP}")]


async def publish_home(ctx: ServiceContext, client: AsyncWebClient, user: str) -> None:
    """Draw the user's App Home: what awaits them, and for overseers what is pending and recently decided."""
    identity = await who(ctx, client, user)
    views = await call(pending, ctx)
    overseen: list[int] | None = sorted({s.committee_id for s in identity.seats if identity.oversees(s.committee_id)}
                                        | {c for c in identity.secretariat if c is not None})
    if None in identity.secretariat:
        overseen = None  # the secretariat of every committee
    decisions = await call(recent_decisions, ctx, overseen)
    await client.views_publish(user_id=user, view=overview.home_view(identity, views, decisions, ctx.clock.now()))
