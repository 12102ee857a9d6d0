"""Notices shaped as Slack Web API calls, at send time (the Renderer of the slack channel)."""
from __future__ import annotations

from jcbot.channels.slack import blocks
from jcbot.downloads import with_links
from jcbot.secret import app_secret
from jcbot.services import outgoing
from jcbot.services.context import Notice, Rendered
from jcbot.services.outgoing import ANNOUNCE
from jcbot.services.outgoing import SLACK_OUTCOMES as OUTCOMES
from jcbot.settings import Settings
from jcbot.store.outbox import Outgoing, slack_payload


def proposal_link(settings: Settings, ref: str) -> str | None:
    """Where a member reads a proposal in full and answers it (its page on the web, after sign-in)."""
    base = settings.values.get("public_url")
    return f"{base.rstrip('/')}/answer/{ref}" if base else None


class SlackRenderer:
    """Direct messages to members with a Slack user id; posts in the committee's channel."""

    channel = "slack"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._secret: bytes | None = None

    def render(self, notice: Notice) -> list[Rendered]:
        """The Web API call(s) for one notice; none if it cannot reach anyone on Slack."""
        if not outgoing.address("slack", notice, self.settings):
            return []
        if notice.recipient.handle == ANNOUNCE:
            return self._announce(notice)
        user = notice.recipient.slack_user_id
        shaped = self._shape(notice) if user else None
        if shaped is None:
            return []
        text, body = shaped
        return [Rendered("slack", user, slack_payload("chat.postMessage", channel=user, text=text, blocks=body,
                                                      unfurl_links=False))]

    def for_outbox(self, message: Outgoing) -> list[dict]:
        """The Web API calls ({method, arguments}) to make for an outbox message, rendered now from its notice.

        A message queued by a jcbot that rendered inside the transaction already holds
        one call and is sent as stored. An empty list: the notice reaches no one now.
        """
        if not outgoing.is_notice(message.payload):
            return [message.payload]
        return [r.payload for r in self.render(outgoing.from_payload(message.payload))]

    def _shape(self, notice: Notice) -> tuple[str, list[dict]] | None:
        d, kind = notice.data, notice.kind
        p = d.get("proposal") or {}
        if kind == "distribution":
            return (f"{p['ref']}: your assertion is requested by {blocks.when(p['deadline'], blocks.tz_of(d))}",
                    blocks.distribution(d, proposal_link(self.settings, p["ref"]), self._documents(notice)))
        if kind == "confirmation":
            return f"{p['ref']}: your {d['assertion']['position']} assertion was recorded", blocks.confirmation(d)
        if kind == "escalation":
            a = d["assertion"]
            return f"{a.get('member_name') or a['member']} objected to {p['ref']}", blocks.escalation(d)
        if kind in OUTCOMES:
            return blocks.outcome(kind, d)
        if kind == "reminder":
            return (f"Reminder: {p['ref']} awaits your assertion",
                    blocks.reminder(d, proposal_link(self.settings, p["ref"]), self._documents(notice)))
        if kind == "seat_reminder":
            return f"{p['ref']}: the {d['seat']} seat has not affirmed", blocks.seat_reminder(d)
        if kind in ("digest", "duty"):
            title = (f"{d['committee']['name']}: pending on {d.get('date')}" if kind == "digest"
                     else f"{d['committee']['name']}: a duty")
            return title, blocks.lines_message(title, d.get("lines") or [])
        return None  # a kind this channel does not carry (yet): the email still goes

    def _documents(self, notice: Notice) -> list[dict]:
        """The notice's documents with the member's signed links: Slack gets links, never the files."""
        if not notice.data.get("documents"):
            return []
        if self._secret is None:
            self._secret = app_secret(self.settings)
        return with_links(self.settings, self._secret, notice.data, notice.recipient.handle, notice.recipient.member_id)

    def _announce(self, notice: Notice) -> list[Rendered]:
        where = outgoing.address("slack", notice, self.settings)
        if not where:
            return []
        text, body = blocks.outcome(notice.kind, notice.data)
        return [Rendered("slack", where, slack_payload("chat.postMessage", channel=where, text=text, blocks=body,
                                                       unfurl_links=False))]
