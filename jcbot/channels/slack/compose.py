"""Notices shaped as Slack Web API calls for the outbox (the Renderer of the slack channel)."""
from __future__ import annotations

from jcbot.channels.slack import blocks
from jcbot.services.context import Notice, Rendered
from jcbot.settings import Settings
from jcbot.store.outbox import slack_payload

ANNOUNCE = "#committee"  # jcbot.services.notices.ANNOUNCE
OUTCOMES = ("adoption", "withdrawn", "referred", "lapse")


def proposal_link(settings: Settings, ref: str) -> str | None:
    """Where a member reads a proposal in full and answers it (its page on the web, after sign-in)."""
    base = settings.values.get("public_url")
    return f"{base.rstrip('/')}/answer/{ref}" if base else None


class SlackRenderer:
    """Direct messages to members with a Slack user id; posts in the committee's channel."""

    channel = "slack"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def render(self, notice: Notice) -> list[Rendered]:
        """The Web API call(s) for one notice; none if it cannot reach anyone on Slack."""
        if notice.recipient.handle == ANNOUNCE:
            return self._announce(notice)
        user = notice.recipient.slack_user_id
        shaped = self._shape(notice) if user else None
        if shaped is None:
            return []
        text, body = shaped
        return [Rendered("slack", user, slack_payload("chat.postMessage", channel=user, text=text, blocks=body,
                                                      unfurl_links=False))]

    def _shape(self, notice: Notice) -> tuple[str, list[dict]] | None:
        d, kind = notice.data, notice.kind
        p = d.get("proposal") or {}
        if kind == "distribution":
            return (f"{p['ref']}: your assertion is requested by {blocks.when(p['deadline'], blocks.tz_of(d))}",
                    blocks.distribution(d, proposal_link(self.settings, p["ref"])))
        if kind == "confirmation":
            return f"{p['ref']}: your {d['assertion']['position']} assertion was recorded", blocks.confirmation(d)
        if kind == "escalation":
            a = d["assertion"]
            return f"{a.get('member_name') or a['member']} objected to {p['ref']}", blocks.escalation(d)
        if kind in OUTCOMES:
            return blocks.outcome(kind, d)
        if kind == "reminder":
            return (f"Reminder: {p['ref']} awaits your assertion",
                    blocks.reminder(d, proposal_link(self.settings, p["ref"])))
        if kind == "seat_reminder":
            return f"{p['ref']}: the {d['seat']} seat has not affirmed", blocks.seat_reminder(d)
        if kind in ("digest", "duty"):
            title = (f"{d['committee']['name']}: pending on {d.get('date')}" if kind == "digest"
                     else f"{d['committee']['name']}: a duty")
            return title, blocks.lines_message(title, d.get("lines") or [])
        return None  # a kind this channel does not carry (yet): the email still goes

    def _announce(self, notice: Notice) -> list[Rendered]:
        where = self.settings.values.get("slack_channel")
        if not where or notice.kind.removeprefix("announce_") not in OUTCOMES:
            return []
        text, body = blocks.outcome(notice.kind, notice.data)
        return [Rendered("slack", where, slack_payload("chat.postMessage", channel=where, text=text, blocks=body,
                                                       unfurl_links=False))]
