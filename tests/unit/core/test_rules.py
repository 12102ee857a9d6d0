"""Rules files: the minimal file, defaults, options, and errors naming file and key."""
from __future__ import annotations

import pytest

from jcbot.core.errors import RulesError
from jcbot.core.rules import effective_values, parse_term, rules_from_text, TermLength
from jcbot.resources import rules_dir

MINIMAL = """\
timezone: Asia/Tokyo
membership:
  max_members_per_government: 10
electronic_decision:
  objection_period_days: 20
"""


def test_a_file_with_only_the_three_required_keys_is_valid_and_defaults_the_rest():
    r = rules_from_text(MINIMAL, "min.yaml")
    values = effective_values(r)
    assert values["timezone"] == "Asia/Tokyo"
    assert values["membership.max_members_per_government"] == 10
    assert values["electronic_decision.objection_period_days"] == 20
    assert values["electronic_decision.period_ends"] == "end_of_day"
    assert values["electronic_decision.withdrawn_negative_counts"] is True
    assert values["electronic_decision.cochairs_must_affirm_within_period"] is False
    assert values["cochairs.term"] == "P1Y"
    assert r.cochairs.term_length == TermLength(years=1)


def test_the_options_of_procedure_md_exist_with_their_names():
    text = MINIMAL.replace("objection_period_days: 20", """objection_period_days: 20
  period_ends: exact
  withdrawn_negative_counts: false
  cochairs_must_affirm_within_period: true""") + "cochairs:\n  term: P6M\n"
    r = rules_from_text(text, "opts.yaml")
    assert r.electronic_decision.period_ends == "exact"
    assert r.electronic_decision.withdrawn_negative_counts is False
    assert r.electronic_decision.cochairs_must_affirm_within_period is True
    assert r.cochairs.term_length == TermLength(months=6)


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (("timezone: Asia/Tokyo", "timezone: Asia/Edo"), "timezone", "IANA time zone"),
        (("timezone: Asia/Tokyo", "timezone: 9"), "timezone", "expected text"),
        (("max_members_per_government: 10", "max_members_per_government: ten"), "membership.max_members_per_government", "whole number"),
        (("max_members_per_government: 10", "max_members_per_government: 0"), "membership.max_members_per_government", ">= 1"),
        (("max_members_per_government: 10", "max_members_per_government: 10.5"), "membership.max_members_per_government", "whole number"),
        (("objection_period_days: 20", "objection_period_days: 20\n  perod_ends: exact"), "electronic_decision.perod_ends", "unknown key"),
        (("objection_period_days: 20", "objection_period_days: 20\n  period_ends: midnight"), "electronic_decision.period_ends", "'end_of_day' or 'exact'"),
        (("objection_period_days: 20", "objection_period_days: 20\n  withdrawn_negative_counts: no"), "electronic_decision.withdrawn_negative_counts", "true or false"),
        (("objection_period_days: 20", "objection_period_days: '20'"), "electronic_decision.objection_period_days", "whole number"),
        (("timezone: Asia/Tokyo\n", "timezone: Asia/Tokyo\ncochairs: {term: 1 year}\n"), "cochairs.term", "ISO 8601 duration"),
        (("timezone: Asia/Tokyo\n", "timezone: Asia/Tokyo\nquorum: 3\n"), "quorum", "unknown key"),
        (("electronic_decision:\n  objection_period_days: 20\n", ""), "electronic_decision", "missing"),
    ],
)
def test_an_error_names_the_file_the_key_and_what_was_expected(change, key, expected):
    text = MINIMAL.replace(*change)
    assert text != MINIMAL
    with pytest.raises(RulesError) as err:
        rules_from_text(text, "rules/broken.yaml")
    assert err.value.source == "rules/broken.yaml"
    assert err.value.key == key
    assert expected in err.value.problem
    assert str(err.value).startswith(f"rules/broken.yaml: {key}: ")


def test_an_unknown_key_lists_the_keys_that_exist_there():
    with pytest.raises(RulesError, match="expected one of: max_members_per_government"):
        rules_from_text(MINIMAL.replace("10\n", "10\n  max_members: 3\n"), "f.yaml")


@pytest.mark.parametrize("text", ["a: [", "timezone: UTC\ntimezone: UTC\n", "- a\n- b\n", ""])
def test_malformed_yaml_is_an_error_naming_the_file(text):
    with pytest.raises(RulesError) as err:
        rules_from_text(text, "bad.yaml")
    assert str(err.value).startswith("bad.yaml: ")


def test_duplicate_keys_are_refused_with_their_line():
    with pytest.raises(RulesError, match="line 2: duplicate key 'timezone'"):
        rules_from_text("timezone: UTC\ntimezone: Asia/Tokyo\n", "dup.yaml")


@pytest.mark.parametrize(("text", "term"), [("P1Y", TermLength(1)), ("P18M", TermLength(0, 18)), ("P2W", TermLength(days=14)), ("P1Y2M3D", TermLength(1, 2, 3))])
def test_terms_are_iso_durations_of_dates(text, term):
    assert parse_term(text) == term


@pytest.mark.parametrize("text", ["P", "P0Y", "1Y", "PT1H", "P1.5Y"])
def test_bad_terms_are_refused(text):
    with pytest.raises(ValueError):
        parse_term(text)


@pytest.mark.parametrize("path", sorted(rules_dir().glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_rules_file_loads(path):
    r = rules_from_text(path.read_text(), str(path))
    assert r.membership.max_members_per_government >= 1


def test_the_default_rules_are_the_2013_paper():
    r = rules_from_text((rules_dir() / "default.yaml").read_text(), "default.yaml")
    assert (r.timezone, r.membership.max_members_per_government, r.electronic_decision.objection_period_days) == ("UTC", 10, 20)


def test_japan_mongolia_counts_days_in_ulaanbaatar():
    r = rules_from_text((rules_dir() / "japan-mongolia.yaml").read_text(), "japan-mongolia.yaml")
    assert (r.timezone, r.committee.code, r.membership.max_members_per_government) == ("Asia/Ulaanbaatar", "MN", 10)
