"""docs/intake.md lists every intake chain's rules, in order, with their descriptions."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from jcbot.channels.email import inbound, refusing
from jcbot.services.intake import rules, slack, web
from jcbot.services.intake.chain import describe

DOC = Path(__file__).resolve().parents[2] / "docs" / "intake.md"
CHAINS = {
    "A letter, the CLI, the web": rules.DIRECT,
    "An email reply: on the message alone": inbound.BEFORE,
    "An email reply: in the transaction": inbound.RULES,
    "An email reply: who is answered": refusing.ANSWER,
    "A Slack click": slack.RULES,
    "An answer on the web": web.RULES,
}


def _section(title: str) -> list[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [(m[1], m[2]) for m in re.finditer(r"^\| \d+ \| `([^`]+)` \| (.+) \|$", body, re.M)]


@pytest.mark.parametrize("title", CHAINS)
def test_the_doc_lists_the_chain_as_the_code_runs_it(title):
    assert _section(title) == describe(CHAINS[title])


def test_every_rule_name_is_unique_within_its_chain():
    for chain in CHAINS.values():
        names = [r.name for r in chain]
        assert len(names) == len(set(names))
