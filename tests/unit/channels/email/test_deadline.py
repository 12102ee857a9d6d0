"""The deadline's .ics: a member's DESCRIPTION line folded once per shape is the line icalendar folds itself."""
from __future__ import annotations

import random

import pytest

from jcbot.channels.email.deadline import _calendar, _description_line, _member_line, deadline_ics
from jcbot.channels.email.tokens import make_token, reply_address

SECRET = b"s" * 32
PROPOSAL = {"id": 7, "version": 2, "ref": "MN-P-2026-007", "title": "Solar PV methodology, second revision",
            "distributed_at": "2026-03-01T09:00:00+00:00", "deadline": "2026-03-24T15:00:00+00:00"}
COMMITTEE = {"name": "Japan-Mongolia Joint Committee"}


def _answer_to(member_id: int, local: str = "jc-replies") -> str:
    return reply_address(local, "jc.example.org", make_token(SECRET, 7, 2, member_id))


@pytest.mark.parametrize("member_id", [1, 17, 300, 70_000, 2**31])
@pytest.mark.parametrize("local", ["jc", "jc-replies", "joint-committee-replies-of-the-secretariat"])
def test_each_members_calendar_is_the_one_icalendar_writes(member_id, local):
    answer_to = _answer_to(member_id, local)
    description = (f"Assertions on {PROPOSAL['ref']} must be made before this moment. Reply to the proposal email "
                   f"({answer_to}) with AFFIRM, or OBJECT and your opinion.")
    whole = _calendar(7, 2, PROPOSAL["distributed_at"], PROPOSAL["deadline"], PROPOSAL["ref"], PROPOSAL["title"],
                      COMMITTEE["name"], "jc.example.org", description)
    assert deadline_ics(PROPOSAL, COMMITTEE, "jc.example.org", answer_to) == whole


def test_a_token_folds_like_the_whole_line_wherever_the_fold_falls():
    rng = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    fillers = ["x", "é", "日本", "\\", "^", ",", ";", " ", "q", "z9", "\n"]
    for _ in range(2000):
        token = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        before = "".join(rng.choice(fillers) for _ in range(rng.randint(0, 80)))
        after = "".join(rng.choice(fillers) for _ in range(rng.randint(0, 40)))
        text = f"{before}+{token}@{after}"
        assert _member_line(text, token) == _description_line(text), text


def test_a_token_not_alone_or_not_alphanumeric_is_folded_whole():
    text = "Reply to ab+tok@x and tok again"
    assert _member_line(text, "tok") == _description_line(text)
    assert _member_line("Reply to a+t-k@x", "t-k") == _description_line("Reply to a+t-k@x")
    assert _member_line("no token here", "") == _description_line("no token here")
