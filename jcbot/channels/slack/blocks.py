"""Block Kit for jcbot's Slack messages: small pure functions of plain data.

Each takes the notice data (jcbot.services.notices) or plain values and returns blocks;
nothing here talks to Slack or the database, so listeners and the renderer stay thin.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

TEXT_LIMIT = 2500  # Slack refuses a section over 3,000 characters; leave room for the link
POSITION_BLOCKS = ("jc_position", "jc_actions")
COCHAIR_BLOCK = "jc_cochair"
OPEN = ("open", "objected")
KINDS = {"methodology_approval": "Methodology approval", "tpe_designation": "TPE designation",
         "project_registration": "Project registration", "credit_issuance_notification": "Credit issuance notification",
         "pin_no_objection": "No objection to the planned project (PIN)",
         "rules_revision": "Rules revision", "other": "Other"}


def esc(text: str) -> str:
    """Escape text for mrkdwn (Slack reads &, < and > as markup)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def when(at: str | datetime | None, tz: str | None) -> str:
    """An instant as a person reads it in their zone: 'Tue 24 Mar 2026, 00:00 (Asia/Tokyo)'."""
    if at is None:
        return "-"
    instant = datetime.fromisoformat(at) if isinstance(at, str) else at
    zone = tz or "UTC"
    return f"{instant.astimezone(ZoneInfo(zone)):%a %d %b %Y, %H:%M} ({zone})"


def action_id(verb: str, ref: str, version: int) -> str:
    """The id of a button: what it does, on which proposal and version."""
    return f"jc.{verb}|{ref}|{version}"


def parse_action(value: str) -> tuple[str, str, int]:
    """(verb, ref, version) from an action id or callback id; ValueError if it is not one of ours."""
    head, ref, version = value.split("|")
    if not head.startswith("jc."):
        raise ValueError(f"not a jcbot action: {value!r}")
    return head.removeprefix("jc."), ref, int(version)


def button(text: str, verb: str, ref: str, version: int, style: str | None = None, confirm: dict | None = None) -> dict:
    b: dict = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id(verb, ref, version),
               "value": f"{ref}|{version}"}
    if style:
        b["style"] = style
    if confirm:
        b["confirm"] = confirm
    return b


def section(text: str, block_id: str | None = None) -> dict:
    out = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if block_id:
        out["block_id"] = block_id
    return out


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def items_text(items: list[dict]) -> str:
    """The items of a proposal as a bulleted list."""
    lines = []
    for i in items:
        ref = f" [{esc(i['reference'])}]" if i.get("reference") else ""
        lines.append(f"• {KINDS.get(i['kind'], i['kind'])}: {esc(i['title'])}{ref}")
    return "\n".join(lines) or "-"


def body_text(text: str, link: str | None) -> str:
    """The proposal's text, or its beginning and a link when too long for a message."""
    if len(text) <= TEXT_LIMIT:
        return esc(text)
    cut = esc(text[:TEXT_LIMIT].rsplit(" ", 1)[0]) + " …"
    return cut + (f"\n<{link}|Read the full text>" if link else "\n_(shortened: the full text is in the email)_")


def tz_of(data: dict) -> str:
    """The recipient's zone, else the committee's."""
    return (data.get("recipient") or {}).get("timezone") or data["committee"]["timezone"]


def documents(docs: list[dict]) -> list[dict]:
    """The documents a member asserts on: name, size, SHA-256 and the member's own download link (never a file)."""
    if not docs:
        return []
    lines = []
    for d in docs:
        name = f"<{d['url']}|{esc(d['name'])}>" if d.get("url") else esc(d["name"])
        pages = f", {d['pages']} page{'' if d['pages'] == 1 else 's'}" if d.get("pages") else ""
        lines.append(f"• {name} ({d['visibility']}, {d['media_type']}, {d['size_text']}{pages})\n"
                     f"   SHA-256 `{d['sha256']}`")
    until = next((d["expires"] for d in docs if d.get("url") and d.get("expires")), None)
    note = f"Links made for you, until {until:%d %b %Y}." if until else "Ask the secretariat for the files."
    return [section(f"*Documents ({len(docs)})*\n" + "\n".join(lines)), context(note)]


def distribution(data: dict, link: str | None = None, docs: list[dict] | None = None) -> list[dict]:
    """The DM asking a member to assert: the proposal, its documents and the Affirm / Object... buttons."""
    c, p = data["committee"], data["proposal"]
    return [
        header(f"{p['ref']}: {p['title']}"),
        section(f"*{esc(c['name'])}* asks for your assertion on proposal *{p['ref']}*"
                + (f" (version {p['version']})" if p["version"] > 1 else "") + "."),
        section(f"*Items*\n{items_text(p['items'])}"),
        section(body_text(p["text"], link)),
        *documents(docs or []),
        context(f"Deadline: *{when(p['deadline'], tz_of(data))}*, {p['period_days']} calendar days from distribution. "
                "Silence counts as no objection; a negative needs your opinion."),
        *([context(f"<{link}|Read it and answer on the web> (you sign in first with your email address).")]
          if link else []),
        *position_blocks(p["ref"], p["version"], None),
    ]


def position_blocks(ref: str, version: int, position: str | None, at: str | None = None,
                    opinion: str | None = None, open_: bool = True) -> list[dict]:
    """The member's position (if any) and the buttons to assert or change it while open."""
    out = []
    if position:
        line = f"Your position: *{position}*, recorded {at}."
        if opinion:
            line += "\n>" + esc(opinion).replace("\n", "\n>")
        out.append(section(line, "jc_position"))
    if open_:
        buttons = []
        if position != "affirmative":
            buttons.append(button("Affirm" if position is None else "Change to Affirm", "affirm", ref, version, "primary"))
        buttons.append(button("Object..." if position is None else "Object again..." if position == "negative"
                              else "Change to Object...", "object", ref, version, "danger"))
        out.append({"type": "actions", "block_id": "jc_actions", "elements": buttons})
    return out


def with_position(blocks: list[dict], ref: str, version: int, position: str, at: str, opinion: str | None = None,
                  open_: bool = True) -> list[dict]:
    """A distribution message's blocks updated in place to show the member's position."""
    kept = [b for b in blocks if b.get("block_id") not in POSITION_BLOCKS]
    return kept + position_blocks(ref, version, position, at, opinion, open_)


def confirmation(data: dict) -> list[dict]:
    """The receipt of an assertion, with a way to change it while the proposal is open."""
    p, a = data["proposal"], data["assertion"]
    out = [section(f"Recorded for *{p['ref']}* _{esc(p['title'])}_:")]
    out += position_blocks(p["ref"], p["version"], a["position"], when(a["at"], tz_of(data)), a.get("opinion"),
                           open_=p["status"] in OPEN and not a.get("ignored"))
    if a.get("ignored"):
        out.append(context("The outcome was already settled when this arrived: it is kept in the record and changes nothing."))
    else:
        out.append(context("You may assert again until the proposal is settled; every assertion stays in the record."))
    return out


def escalation(data: dict) -> list[dict]:
    """A negative sent at once to a co-chair or alternate, with the co-chairs' four answers."""
    p, a = data["proposal"], data["assertion"]
    ref, v = p["ref"], p["version"]
    within = a["within_period"]  # the core's judgement, carried by the notice

    def sure(title: str, text: str) -> dict:
        return {"title": {"type": "plain_text", "text": title}, "text": {"type": "mrkdwn", "text": text},
                "confirm": {"type": "plain_text", "text": "Yes"}, "deny": {"type": "plain_text", "text": "Cancel"}}

    return [
        header(f"Objection to {ref}"),
        section(f"*{esc(a.get('member_name') or a['member'])}* made a negative assertion on *{ref}* (version {v}) "
                f"_{esc(p['title'])}_ at {when(a['at'], tz_of(data))}"
                + (" — within the period: it counts against adoption by no objection." if within
                   else " — after the period.") + "\n>" + esc(a.get("opinion") or "").replace("\n", "\n>")),
        context(f"Deadline {when(p['deadline'], tz_of(data))}. It can still pass by unanimity if left open."),
        {"type": "actions", "block_id": COCHAIR_BLOCK, "elements": [
            button("Revise and redistribute...", "revise", ref, v, "primary"),
            button("Withdraw", "withdraw", ref, v, "danger", sure("Withdraw?", f"Withdraw *{ref}*? Every member is told.")),
            button("Refer to a meeting", "refer", ref, v, confirm=sure("Refer?", f"Refer *{ref}* to a meeting or a call?")),
            button("Leave open", "leave_open", ref, v),
        ]},
    ]


def cochair_done(blocks: list[dict], text: str) -> list[dict]:
    """An escalation message once a co-chair answered: the buttons give way to what was done."""
    return [b for b in blocks if b.get("block_id") != COCHAIR_BLOCK] + [context(text)]


def reminder(data: dict, link: str | None = None, docs: list[dict] | None = None) -> list[dict]:
    """A reminder to a member whose assertion is awaited: the distribution again, with the days left."""
    days = data.get("days_before")
    head = context(f"*Reminder*: {days} day{'s' if days != 1 else ''} before the deadline, your assertion is awaited."
                   if days is not None else "*Reminder*: your assertion is awaited.")
    return [head] + distribution(data, link, docs)


def seat_reminder(data: dict) -> list[dict]:
    """To a co-chair (or alternate) whose seat has not affirmed: no adoption by no objection without it."""
    p = data["proposal"]
    when_ = ("The period is over: it is adopted at the moment both seats affirm." if data.get("period_over")
             else f"Deadline {when(p['deadline'], tz_of(data))}.")
    return [section(f"The *{data['seat']}* seat has not affirmed *{p['ref']}* _{esc(p['title'])}_. Without both seats' "
                    f"affirmation it cannot be adopted by no objection. {when_}"),
            *position_blocks(p["ref"], p["version"], None)]


def lines_message(title: str, lines: list[str]) -> list[dict]:
    """A digest or a duty: a title and one bullet per line."""
    return [section(f"*{esc(title)}*\n" + "\n".join(f"• {esc(line)}" for line in lines))]


BASIS = {"no_objection": "no objection within the period, both co-chairs affirmative", "unanimous": "unanimity"}


def outcome(kind: str, data: dict) -> tuple[str, list[dict]]:
    """(fallback text, blocks) of an adoption, withdrawal, referral or lapse notice."""
    p, tz = data["proposal"], tz_of(data)
    if kind in ("adoption", "announce_adoption"):
        d = data["decision"]
        if d.get("meeting"):  # taken at a meeting: a day and a place, and perhaps no proposal
            m = d["meeting"]
            what = f"*{p['ref']}* _{esc(p['title'])}_ was" if p else f"_{esc(d['title'])}_ was"
            line = (f"{what} adopted as decision *{d['number']}* by consensus at the {esc(m['title'])} "
                    f"({m['held_on']}, {esc(m['place'])}).\n{items_text(d['items'])}")
            return f"Decision {d['number']} adopted at the {m['title']}", [section(line)]
        line = (f"*{p['ref']}* _{esc(p['title'])}_ was adopted as decision *{d['number']}* "
                f"({BASIS.get(d['basis'], d['basis'])}) at {when(d['adopted_at'], tz)}.\n{items_text(d['items'])}")
        return f"{p['ref']} adopted as decision {d['number']}", [section(line)]
    head = f"*{p['ref']}* _{esc(p['title'])}_"
    if kind in ("withdrawn", "referred", "announce_withdrawn", "announce_referred"):
        verb = "withdrawn" if kind.endswith("withdrawn") else "referred to a meeting or a call"
        line = f"{head} was {verb} by the co-chairs." + (f"\n>{esc(data['note'])}" if data.get("note") else "")
        text = f"{p['ref']} {verb}"
    elif kind == "lapse":
        line = (f"{head} lapsed at the deadline ({when(p['deadline'], tz)}): nobody objected, but the co-chairs "
                "had not both affirmed within the period.")
        text = f"{p['ref']} lapsed"
    else:
        raise ValueError(f"no Slack outcome message for {kind!r}")
    return text, [section(line)]
