"""Block Kit modals: the objection (its required opinion) and a co-chair's revision."""
from __future__ import annotations

import json

from jcbot.channels.slack.blocks import action_id, section


def objection_modal(ref: str, version: int, meta: dict) -> dict:
    """The modal that asks for the opinion a negative must carry.

    Built from the button alone: Slack accepts the click's trigger for 3 seconds, so the
    pop-up opens before any database work (who may object is checked, and said, after).
    """
    return {
        "type": "modal", "callback_id": action_id("object", ref, version), "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Object"[:24]}, "submit": {"type": "plain_text", "text": "Object"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"You object to *{ref}* (version {version}). Your opinion goes at once to both co-chairs."),
            {"type": "input", "block_id": "opinion", "label": {"type": "plain_text", "text": "Your opinion"},
             "element": {"type": "plain_text_input", "action_id": "opinion", "multiline": True, "min_length": 1}},
        ],
    }


def notice_modal(title: str, text: str) -> dict:
    """A pop-up that only says something (a refusal shown where the objection was to be written)."""
    return {"type": "modal", "title": {"type": "plain_text", "text": title[:24]},
            "close": {"type": "plain_text", "text": "Close"}, "blocks": [section(text)]}


def revise_modal(ref: str, version: int, title: str, text: str, meta: dict) -> dict:
    """The modal where a co-chair writes the revised version to redistribute."""
    fits = len(text) <= 3000  # a text input holds at most 3,000 characters
    text_input = {"type": "plain_text_input", "action_id": "text", "multiline": True, "max_length": 3000}
    if fits:
        text_input["initial_value"] = text
    return {
        "type": "modal", "callback_id": action_id("revise", ref, version), "private_metadata": json.dumps(meta),
        "title": {"type": "plain_text", "text": "Revise"}, "submit": {"type": "plain_text", "text": "Redistribute"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(f"A new version of *{ref}* replaces version {version} and is distributed at once, "
                    "with a new period and a new electorate."),
            {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"},
             "element": {"type": "plain_text_input", "action_id": "title", "initial_value": title[:500], "max_length": 500}},
            {"type": "input", "block_id": "text", "optional": not fits, "label": {"type": "plain_text", "text": "Text"},
             "hint": {"type": "plain_text", "text": "The full text of the new version." if fits else
                      f"The current text ({len(text)} characters) is too long to edit here: leave blank to keep it."},
             "element": text_input},
        ],
    }


def view_value(view: dict, block: str) -> str | None:
    """The stripped value of an input of a submitted modal (None when blank)."""
    value = (((view.get("state") or {}).get("values") or {}).get(block) or {}).get(block, {}).get("value")
    return value.strip() if value and value.strip() else None
