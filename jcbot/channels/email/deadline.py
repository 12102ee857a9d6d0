"""The deadline as emails show it: the instant in the member's and the committee's time, and the .ics event.

Formatting only: whether an instant is within the period is the core's judgement,
carried in the notice.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jcbot.channels.email.mime import locked_cache


@lru_cache(maxsize=1024)
def local_time(iso: str | datetime | None, zone: str | None) -> str:
    """An instant as people read it: 'Tuesday 24 March 2026, 00:00 (Asia/Ulaanbaatar, UTC+08:00)'.

    Kept for the next call: every email of a fan-out shows the same deadline in a few zones.
    """
    if iso is None:
        return "-"
    instant = datetime.fromisoformat(iso) if isinstance(iso, str) else iso
    here = instant.astimezone(ZoneInfo(zone or "UTC"))
    offset = here.strftime("%z")
    abbr = here.tzname() or ""
    abbr = f" {abbr}" if abbr[:1].isalpha() and abbr != "UTC" else ""
    return (f"{here:%A} {here.day} {here:%B %Y}, {here:%H:%M}{abbr} "
            f"({zone or 'UTC'}, UTC{offset[:3]}:{offset[3:]})")


def deadline_lines(iso: str | None, member_zone: str | None, committee_zone: str) -> list[tuple[str, str]]:
    """The deadline in the member's time zone and in the committee's, labelled."""
    if iso is None:
        return []
    if not member_zone or member_zone == committee_zone:
        label = "your time zone and the committee's" if member_zone else "the committee's time zone"
        return [(local_time(iso, committee_zone), label)]
    return [(local_time(iso, member_zone), "your time zone"),
            (local_time(iso, committee_zone), "the committee's time zone")]


def deadline_ics(proposal: dict, committee: dict, domain: str, answer_to: str | None) -> bytes:
    """An iCalendar event at the deadline; one UID per proposal, so a revision updates it."""
    how = f"Reply to the proposal email ({answer_to})" if answer_to else "Reply to the proposal email"
    description = (f"Assertions on {proposal['ref']} must be made before this moment. "
                   f"{how} with AFFIRM, or OBJECT and your opinion.")
    frame = _ics_frame(proposal["id"], int(proposal["version"]), proposal["distributed_at"], proposal["deadline"],
                       proposal["ref"], proposal["title"], committee["name"], domain)
    if frame is None:
        return _calendar(proposal["id"], int(proposal["version"]), proposal["distributed_at"], proposal["deadline"],
                         proposal["ref"], proposal["title"], committee["name"], domain, description)
    before, after = frame
    token = (answer_to or "").partition("+")[2].partition("@")[0]
    return before + _member_line(description, token) + after


# The event's DESCRIPTION names the member's reply address; all else is the same for every
# member of a fan-out: made once, with this stand-in where each member's line goes.
_DESCRIPTION_MARK = "jcbot-description-of-the-member"


@locked_cache(maxsize=64)
def _ics_frame(pid: Any, version: int, distributed_at: str | None, deadline: str, ref: str, title: str,
               committee: str, domain: str) -> tuple[bytes, bytes] | None:
    """The calendar before and after the event's DESCRIPTION line (None if that line cannot be found once)."""
    ics = _calendar(pid, version, distributed_at, deadline, ref, title, committee, domain, _DESCRIPTION_MARK)
    line = _description_line(_DESCRIPTION_MARK)
    if ics.count(line) != 1:
        return None
    before, _, after = ics.partition(line)
    return before, after


# Stand-ins for a member's reply token: alphanumeric, one octet each, never an escape.
_MARKS = "zqxjkvwy0123456789"
_FOLD = "\r\n "


def _member_line(text: str, token: str) -> bytes:
    """_description_line(text), folded once per shape: the member's token, which alone differs
    in a fan-out, is put back where a stand-in of the same length was folded.

    icalendar folds by octets and keeps a backslash or caret with the character after it, so
    a token of letters and digits (one octet each, never escaped) folds exactly as any other
    run of as many letters would (tests/unit/channels/email/test_deadline.py compares).
    """
    mark = next((m for m in _MARKS if m not in text), None)
    if mark is None or not token or not (token.isascii() and token.isalnum()) or text.count(token) != 1:
        return _description_line(text)
    pieces = _shape_line(text.replace(token, mark * len(token))).decode("utf-8").split(_FOLD)
    line = "".join(pieces)
    at = line.find(mark * len(token))
    if at < 0 or line.count(mark) != len(token):
        return _description_line(text)
    line = line[:at] + token + line[at + len(token):]
    out, start = [], 0
    for piece in pieces:
        out.append(line[start:start + len(piece)])
        start += len(piece)
    return _FOLD.join(out).encode("utf-8")


@locked_cache(maxsize=64)
def _shape_line(text: str) -> bytes:
    return _description_line(text)


def _description_line(text: str) -> bytes:
    """The folded DESCRIPTION content line of an event, as icalendar writes it inside the calendar.

    (_ics_frame finds this very line in the calendar icalendar wrote, or makes no frame.)
    """
    from icalendar import Parameters, vText
    from icalendar.parser import Contentline

    return Contentline.from_parts("DESCRIPTION", Parameters(), vText(text)).to_ical() + b"\r\n"


def _calendar(pid: Any, version: int, distributed_at: str | None, deadline: str, ref: str, title: str,
              committee: str, domain: str, description: str) -> bytes:
    # Imported here: icalendar costs `jcbot serve` about 4 MiB, and only distribution emails need it.
    from icalendar import Alarm, Calendar, Event

    cal = Calendar()
    cal.add("prodid", "-//jcbot//Joint Committee decisions//EN")
    cal.add("version", "2.0")
    cal.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"jcbot-proposal-{pid}-deadline@{domain}")
    event.add("sequence", version)
    event.add("dtstamp", datetime.fromisoformat(distributed_at or deadline))
    # DTSTART alone is an instant (RFC 5545 3.6.1): the deadline is a moment, not a slot.
    event.add("dtstart", datetime.fromisoformat(deadline))
    event.add("summary", f"Deadline: {ref} {title} ({committee})")
    event.add("description", description)
    event.add("transp", "TRANSPARENT")
    alarm = Alarm()
    alarm.add("action", "DISPLAY")
    alarm.add("trigger", timedelta(days=-1))
    alarm.add("description", f"{ref}: one day left to answer")
    event.add_component(alarm)
    cal.add_component(event)
    return cal.to_ical()
