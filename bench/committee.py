"""The committee of the Slack and LMTP benchmarks: members x proposals, every proposal distributed."""
from __future__ import annotations

from dataclasses import dataclass

from jcbot.services import proposals, roster
from jcbot.services.context import ServiceContext

RULES = """\
timezone: UTC
committee: {name: Bench JC, code: BC}
membership: {max_members_per_government: 20}
electronic_decision: {objection_period_days: 5, period_ends: exact}
reminders: {days_before_deadline: []}
"""
SLUG = "bench"


@dataclass(frozen=True)
class Seat:
    handle: str
    member_id: int
    slack_user: str
    email: str


@dataclass(frozen=True)
class Committee:
    seats: list[Seat]
    proposals: list[tuple[str, int]]  # (ref, proposal id), each at version 1


def build(ctx: ServiceContext, members: int, proposal_count: int, *, email: bool = True, slack: bool = True) -> Committee:
    """`members` members (half per government, the first of each a co-chair) and `proposal_count` proposals distributed."""
    roster.create_committee(ctx, SLUG, RULES, "bench.yaml", "bench")
    seats = []
    for i in range(members):
        handle, government = f"m{i:03d}", "japan" if i % 2 == 0 else "host"
        address, user = f"{handle}@members.bench.example", f"U0BENCH{i:03d}"
        m = roster.add_member(ctx, SLUG, handle, government, "bench", name=f"Member {i}",
                              email=address if email else None, slack_user_id=user if slack else None,
                              timezone="Asia/Tokyo")
        seats.append(Seat(handle, m.id, user, address))
    roster.elect_cochair(ctx, SLUG, "japan", seats[0].handle, "bench")
    roster.elect_cochair(ctx, SLUG, "host", seats[1].handle, "bench")
    made = []
    for n in range(proposal_count):
        p = proposals.draft(ctx, SLUG, f"Bench proposal {n}", "The Joint Committee approves the methodology.",
                            [proposals.Item("methodology_approval", f"Methodology {n}")], "bench")
        proposals.distribute(ctx, p.ref, "bench")
        made.append((p.ref, p.id))
    return Committee(seats, made)
