"""jcbot.core.cycle: the transition table, the windows, the engine's judgements (PROJECT_CYCLE.md)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from jcbot.core.cycle import (
    CHECK_OVERDUE, KINDS, START, TRANSITIONS, WINDOW_CLOSES, WINDOWS, CaseStart, Check, CycleRefused, DecisionAdopted,
    InputConfirmed, IssuanceRequested, PddPublished, ProposalDistributed, ProposalWithdrawn, RegistrationRequested,
    Resubmitted, ValidationReport, allowed, evaluate, final, first, mermaid, number, number_due, open_window,
    pending_check, states, summary, transition,
)
from jcbot.core.errors import ProcedureError, RulesError
from jcbot.core.rules import Cycle, effective_values, rules_from_text

UTC = timezone.utc
BASE = "membership: {max_members_per_government: 10}\nelectronic_decision: {objection_period_days: 20}\n"
TOKYO = rules_from_text("timezone: Asia/Tokyo\n" + BASE)
BERLIN = rules_from_text("timezone: Europe/Berlin\n" + BASE)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def jst(day: str, clock: str = "10:00") -> datetime:
    return at(f"2026-{day}T{clock}:00+09:00")


def methodology(events, when, rules=TOKYO, start="03-02"):
    return evaluate(CaseStart("methodology", "MN", jst(start), seq=1), events, rules, when)


# ---- the table ---------------------------------------------------------------------

def test_each_kind_starts_once_and_every_state_is_reachable():
    for kind in KINDS:
        starts = [t for t in TRANSITIONS if t.kind == kind and t.source == START]
        assert len(starts) == 1 and first(kind) == starts[0]
        sources = {t.source for t in TRANSITIONS if t.kind == kind} - {START}
        assert sources <= set(states(kind)), kind


def test_one_row_per_state_and_trigger():
    keys = [(t.kind, t.source, t.trigger) for t in TRANSITIONS]
    assert len(keys) == len(set(keys))


def test_the_states_are_those_of_simulate_md():
    assert set(states("methodology")) == {"submitted", "returned", "public_inputs", "awaiting_decision", "approved", "rejected"}
    assert set(states("project")) == {"pin", "pdd_published", "validation", "registration_requested", "returned",
                                      "awaiting_decision", "registered", "rejected"}
    assert set(states("issuance")) == {"issuance_requested", "returned", "awaiting_decision", "notified", "rejected"}
    assert set(states("tpe")) == {"applied", "awaiting_decision", "designated", "rejected"}


def test_numbers_are_given_where_project_cycle_md_says():
    gives = {(t.kind, t.target, t.gives) for t in TRANSITIONS if t.gives}
    assert gives == {("methodology", "submitted", "PM"), ("methodology", "approved", "AM"),
                     ("project", "pin", "PIN"), ("project", "registered", "project")}


def test_windows_belong_to_states_and_name_rules_keys():
    for (kind, state), (name, key) in WINDOWS.items():
        assert state in states(kind)
        assert key in Cycle.model_fields
        assert name in ("completeness_check", "public_inputs")
    # time alone moves a case only out of a state that has a window
    for t in TRANSITIONS:
        if t.trigger == WINDOW_CLOSES:
            assert WINDOWS[(t.kind, t.source)][0] == "public_inputs"


@pytest.mark.parametrize("kind, state, trigger, expected", [
    ("methodology", "public_inputs", "decision approve", False),
    ("methodology", "awaiting_decision", "decision approve_with_revisions", True),
    ("project", "awaiting_decision", "decision approve_with_revisions", False),
    ("project", "validation", "registration_requested", True),
    ("project", "pdd_published", "validation_report", False),
    ("methodology", "approved", "input_confirmed", True),   # refused by the window, not the state
    ("tpe", "applied", "check complete", False),
    ("issuance", "issuance_requested", "check incomplete", True),
])
def test_allowed(kind, state, trigger, expected):
    assert allowed(kind, state, trigger) is expected


def test_final_and_pending_check_states():
    assert [s for s in states("methodology") if final("methodology", s)] == ["approved", "rejected"]
    assert {(k, s) for k in KINDS for s in states(k) if pending_check(k, s)} == {
        ("methodology", "submitted"), ("project", "registration_requested"), ("issuance", "issuance_requested")}


@pytest.mark.parametrize("kind", KINDS)
def test_mermaid_draws_every_row(kind):
    text = mermaid(kind)
    assert text.splitlines()[0] == "stateDiagram-v2"
    for t in TRANSITIONS:
        if t.kind == kind:
            assert f"    {t.source} --> {t.target} : {t.trigger}" in text
    for s in states(kind):
        assert (f"    {s} --> [*]" in text) is final(kind, s)


# ---- windows and numbers -----------------------------------------------------------

def test_a_window_ends_at_the_first_instant_of_day_n_plus_1():
    w = open_window("completeness_check", jst("03-02", "23:59"), 7, TOKYO.tz)
    assert w.start == at("2026-03-02T14:59:00+00:00")
    assert w.end == at("2026-03-10T00:00:00+09:00")
    assert w.contains(at("2026-03-09T23:59:59.999999+09:00")) and not w.contains(w.end)
    assert not w.contains(w.start - timedelta(microseconds=1))


def test_a_window_across_a_dst_change_counts_calendar_days():
    # Berlin springs forward on 29 March 2026: day 7 is 23 hours long, the end is still local midnight.
    w = open_window("completeness_check", at("2026-03-25T12:00:00+01:00"), 7, BERLIN.tz)
    assert w.end == at("2026-04-02T00:00:00+02:00")


@pytest.mark.parametrize("series, seq, text", [
    ("PM", 1, "MN_PM001"), ("AM", 12, "MN_AM012"), ("PIN", 3, "MN_PIN003"), ("project", 7, "MN007"),
    ("project", 1000, "MN1000"),
])
def test_numbers(series, seq, text):
    assert number("MN", series, seq) == text


@pytest.mark.parametrize("seq", [0, -1, True, "1"])
def test_a_number_needs_a_positive_sequence(seq):
    with pytest.raises(ValueError):
        number("MN", "AM", seq)


# ---- methodology -------------------------------------------------------------------

APPROVED = [Check(jst("03-05"), True), InputConfirmed(jst("03-10"), "i1"),
            ProposalDistributed(jst("03-25"), "MN-P-2026-004"), DecisionAdopted(jst("04-15"), "approve", seq=4)]


def test_a_methodology_through_approval():
    view = methodology(APPROVED, jst("04-20"))
    assert (view.kind, view.state, view.number, view.numbers) == ("methodology", "approved", "MN_AM004", ("MN_PM001", "MN_AM004"))
    assert view.windows["completeness_check"].end == jst("03-10", "00:00")
    assert view.windows["public_inputs"].start == jst("03-05")
    assert view.windows["public_inputs"].end == jst("03-21", "00:00")  # 15 days from day 0 = 5 March
    assert view.inputs_counted == ("i1",) and view.inputs_refused == ()
    assert view.duties == () and view.proposal is None and view.next_change is None
    assert summary(view) == {
        "state": "approved", "number": "MN_AM004",
        "windows": {"completeness_check": {"start": "2026-03-02T01:00:00+00:00", "end": "2026-03-09T15:00:00+00:00"},
                    "public_inputs": {"start": "2026-03-05T01:00:00+00:00", "end": "2026-03-20T15:00:00+00:00"}},
        "inputs_counted": 1, "inputs_refused": 0, "duties": []}


def test_time_alone_ends_the_inputs_window():
    end = jst("03-21", "00:00")
    before = methodology(APPROVED[:2], end - timedelta(microseconds=1))
    assert before.state == "public_inputs" and before.next_change == end
    after = methodology(APPROVED[:2], end)
    assert after.state == "awaiting_decision" and after.next_change is None


def test_an_input_at_the_window_end_is_refused():
    end = jst("03-21", "00:00")
    view = methodology([Check(jst("03-05"), True), InputConfirmed(end - timedelta(microseconds=1), "in"),
                        InputConfirmed(end, "late"), InputConfirmed(jst("03-03"), "early")], jst("04-01"))
    assert view.inputs_counted == ("in",) and view.inputs_refused == ("early", "late")


def test_an_input_id_counts_once():
    with pytest.raises(CycleRefused, match="already confirmed") as exc:
        methodology([Check(jst("03-05"), True), InputConfirmed(jst("03-06"), "i1"), InputConfirmed(jst("03-07"), "i1")],
                    jst("04-01"))
    assert exc.value.index == 2 and exc.value.event == "input_confirmed"


def test_a_decision_before_the_window_ended_is_refused_with_its_end():
    events = [Check(jst("03-05"), True), ProposalDistributed(jst("03-12"), "MN-P-2026-001")]
    with pytest.raises(CycleRefused) as exc:
        methodology(events, jst("04-01"))
    assert exc.value.index == 1 and isinstance(exc.value, ProcedureError)
    assert "not allowed for a methodology in state public_inputs" in str(exc.value)
    assert "2026-03-21T00:00:00+09:00" in str(exc.value)


def test_an_incomplete_check_returns_the_case_and_a_resubmission_starts_a_new_check():
    events = [Check(jst("03-04"), False, "form 2 missing"), Resubmitted(jst("03-20")), Check(jst("03-23"), True)]
    returned = methodology(events, jst("03-21"))
    assert returned.state == "submitted" and returned.windows["completeness_check"].start == jst("03-20")
    assert returned.windows["completeness_check"].end == jst("03-28", "00:00")
    assert methodology(events[:1], jst("03-30")).state == "returned"
    assert methodology(events[:1], jst("03-30")).duties == ()
    done = methodology(events, jst("03-24"))
    assert done.state == "public_inputs" and done.windows["public_inputs"].end == jst("04-08", "00:00")


def test_an_incomplete_check_needs_a_reason():
    with pytest.raises(CycleRefused, match="reason"):
        methodology([Check(jst("03-04"), False, " ")], jst("03-30"))


def test_an_overdue_check_is_a_duty_until_it_is_done():
    end = jst("03-10", "00:00")
    assert methodology([], end - timedelta(microseconds=1)).duties == ()
    assert methodology([], end - timedelta(microseconds=1)).next_change == end
    assert methodology([], end).duties == (CHECK_OVERDUE,)
    late = methodology([Check(jst("03-12"), True)], jst("03-13"))
    assert late.duties == () and late.state == "public_inputs"
    assert "late" in late.trace[-1].text


def test_decisions_need_an_open_proposal_and_withdrawals_name_it():
    ready = [Check(jst("03-05"), True)]
    with pytest.raises(CycleRefused, match="no proposal carries the case"):
        methodology(ready + [DecisionAdopted(jst("04-15"), "approve", seq=1)], jst("04-20"))
    with pytest.raises(CycleRefused, match="MN-P-2026-009 is not the case's open proposal"):
        methodology(ready + [ProposalDistributed(jst("03-25"), "MN-P-2026-004"),
                             ProposalWithdrawn(jst("03-26"), "MN-P-2026-009")], jst("04-20"))


def test_a_withdrawn_proposal_leaves_the_case_waiting_and_a_new_one_carries_it():
    events = [Check(jst("03-05"), True), ProposalDistributed(jst("03-25"), "MN-P-2026-004"),
              ProposalWithdrawn(jst("03-27"), "MN-P-2026-004")]
    waiting = methodology(events, jst("04-01"))
    assert waiting.state == "awaiting_decision" and waiting.proposal is None
    events += [ProposalDistributed(jst("04-02"), "MN-P-2026-005"), ProposalDistributed(jst("04-03"), "MN-P-2026-006"),
               DecisionAdopted(jst("04-25"), "reject")]
    assert methodology(events[:-1], jst("04-04")).proposal == "MN-P-2026-006"  # the later supersedes
    rejected = methodology(events, jst("04-30"))
    assert rejected.state == "rejected" and rejected.number == "MN_PM001"


def test_approved_with_revisions_gives_an_am_number():
    events = APPROVED[:-1] + [DecisionAdopted(jst("04-15"), "approve_with_revisions", seq=2)]
    assert methodology(events, jst("04-20")).number == "MN_AM002"


def test_a_closed_case_takes_no_more_decisions():
    with pytest.raises(CycleRefused, match="not allowed for a methodology in state approved"):
        methodology(APPROVED + [ProposalDistributed(jst("04-16"), "MN-P-2026-010")], jst("04-20"))


def test_events_after_the_instant_are_not_applied_and_before_the_start_refused():
    assert methodology(APPROVED, jst("03-06")).state == "public_inputs"
    with pytest.raises(CycleRefused, match="before the case began"):
        methodology([Check(jst("03-01"), True)], jst("03-06"))
    with pytest.raises(ValueError):
        methodology([], jst("03-01"))


def test_equal_instants_apply_in_list_order():
    t = jst("03-25")
    events = [Check(jst("03-05"), True), ProposalDistributed(t, "A"), ProposalWithdrawn(t, "A"), ProposalDistributed(t, "B")]
    assert methodology(events, t).proposal == "B"


def test_a_number_giving_decision_needs_its_seq():
    with pytest.raises(ValueError, match="seq"):
        methodology(APPROVED[:-1] + [DecisionAdopted(jst("04-15"), "approve")], jst("04-20"))
    with pytest.raises(ValueError, match="seq"):
        evaluate(CaseStart("methodology", "MN", jst("03-02")), [], TOKYO, jst("03-03"))


def test_number_due_tells_the_caller_what_to_allocate():
    waiting = methodology(APPROVED[:-1], jst("04-10"))
    assert number_due(waiting, DecisionAdopted(jst("04-15"), "approve")) == "AM"
    assert number_due(waiting, DecisionAdopted(jst("04-15"), "reject")) is None
    assert number_due(waiting, Check(jst("04-15"), True)) is None


def test_the_rules_cycle_section_sets_the_windows():
    rules = rules_from_text("timezone: Asia/Tokyo\n" + BASE + "cycle: {completeness_check_days: 3, methodology_public_input_days: 5}\n")
    view = methodology([Check(jst("03-05"), True)], jst("03-06"), rules)
    assert view.windows["completeness_check"].end == jst("03-06", "00:00")
    assert view.windows["public_inputs"].end == jst("03-11", "00:00")
    assert effective_values(rules)["cycle.pdd_public_input_days"] == 30


@pytest.mark.parametrize("section, key", [
    ("{completeness_check_days: 0}", "cycle.completeness_check_days"),
    ("{pdd_public_input_days: '30'}", "cycle.pdd_public_input_days"),
    ("{check_days: 7}", "cycle.check_days"),
])
def test_the_cycle_section_is_validated(section, key):
    with pytest.raises(RulesError) as exc:
        rules_from_text("timezone: UTC\n" + BASE + f"cycle: {section}\n", "r.yaml")
    assert exc.value.key == key


def test_the_default_durations():
    assert Cycle() == Cycle(completeness_check_days=7, pdd_public_input_days=30, methodology_public_input_days=15)
    assert TOKYO.cycle == Cycle()


# ---- project and issuance ----------------------------------------------------------

PIN = [ProposalDistributed(jst("03-03"), "MN-P-2026-002"), DecisionAdopted(jst("03-24"), "approve", seq=2)]
PDD = [PddPublished(jst("04-01")), ValidationReport(jst("05-10")), RegistrationRequested(jst("05-12")),
       Check(jst("05-14"), True), ProposalDistributed(jst("05-15"), "MN-P-2026-003"),
       DecisionAdopted(jst("06-05"), "approve", seq=5)]
ISSUANCE = [IssuanceRequested(jst("09-01"), 1200, {"japan": 600, "host": 600}), Check(jst("09-03"), True),
            ProposalDistributed(jst("09-04"), "MN-P-2026-020"), DecisionAdopted(jst("09-25"), "approve")]


def project(events, when):
    return evaluate(CaseStart("project", "MN", jst("03-02")), events, TOKYO, when)


def test_a_project_from_pin_to_registration():
    assert project([], jst("03-02")).state == "pin"
    assert project(PIN, jst("03-25")).state == "pin" and project(PIN, jst("03-25")).number == "MN_PIN002"
    published = project(PIN + PDD, jst("04-02"))
    assert published.state == "pdd_published" and published.windows["public_inputs"].end == jst("05-02", "00:00")
    assert project(PIN + PDD, jst("05-02", "00:00")).state == "validation"
    assert project(PIN + PDD, jst("05-13")).state == "registration_requested"
    assert project(PIN + PDD, jst("05-14")).state == "awaiting_decision"
    registered = project(PIN + PDD, jst("06-06"))
    assert registered.state == "registered" and registered.numbers == ("MN_PIN002", "MN005")


def test_a_project_may_start_with_its_pdd():
    view = project(PDD, jst("06-06"))
    assert view.state == "registered" and view.numbers == ("MN005",)


def test_project_guards():
    with pytest.raises(CycleRefused, match="PIN proposal MN-P-2026-002 is still open"):
        project(PIN[:1] + PDD, jst("06-06"))
    with pytest.raises(CycleRefused, match="validation_report is not allowed for a project in state pdd_published"):
        project([PddPublished(jst("04-01")), ValidationReport(jst("04-10"))], jst("06-06"))
    with pytest.raises(CycleRefused, match="no validation report recorded"):
        project([PddPublished(jst("04-01")), RegistrationRequested(jst("05-12"))], jst("06-06"))
    with pytest.raises(CycleRefused, match="the PIN was already decided"):
        project(PIN + [ProposalDistributed(jst("03-26"), "MN-P-2026-009")], jst("04-06"))
    with pytest.raises(CycleRefused, match="approve_with_revisions is not allowed for a project"):
        project(PDD[:-1] + [DecisionAdopted(jst("06-05"), "approve_with_revisions", seq=1)], jst("06-06"))


def test_an_issuance_continues_its_registered_project():
    requested = project(PDD + ISSUANCE[:1], jst("09-02"))
    assert (requested.kind, requested.state, requested.project_state) == ("issuance", "issuance_requested", "registered")
    assert requested.number == "MN005" and requested.request.amount == 1200
    assert requested.windows["completeness_check"].start == jst("09-01")
    assert project(PDD + ISSUANCE[:1], jst("09-09", "00:00")).duties == (CHECK_OVERDUE,)
    notified = project(PDD + ISSUANCE, jst("09-30"))
    assert (notified.kind, notified.state, notified.number) == ("issuance", "notified", "MN005")
    again = project(PDD + ISSUANCE + [IssuanceRequested(jst("12-01"), 10, {"japan": 10})], jst("12-02"))
    assert again.state == "issuance_requested" and again.request.amount == 10


def test_issuance_guards():
    with pytest.raises(CycleRefused, match="an issuance is for a registered project; this one is in state validation") as exc:
        project(PDD[:2] + ISSUANCE[:1], jst("09-02"))
    assert exc.value.event == "issuance_requested"
    with pytest.raises(CycleRefused, match="shares add up to 1100, not the amount 1200"):
        project(PDD + [IssuanceRequested(jst("09-01"), 1200, {"japan": 600, "host": 500})], jst("09-02"))
    with pytest.raises(CycleRefused, match="shares.korea: expected a government"):
        project(PDD + [IssuanceRequested(jst("09-01"), 1, {"korea": 1})], jst("09-02"))
    with pytest.raises(CycleRefused, match="still in state issuance_requested"):
        project(PDD + ISSUANCE[:1] + [IssuanceRequested(jst("09-02"), 1, {"host": 1})], jst("09-03"))


def test_an_issuance_case_of_its_own():
    request = IssuanceRequested(jst("09-01"), 1200, {"japan": 1000, "host": 200})
    start = CaseStart("issuance", "MN", request.at, request=request, project_number="MN005")
    view = evaluate(start, ISSUANCE[1:], TOKYO, jst("09-30"))
    assert (view.kind, view.state, view.number, view.project_state) == ("issuance", "notified", "MN005", None)
    with pytest.raises(CycleRefused, match="shares add up"):
        evaluate(CaseStart("issuance", "MN", request.at, request=IssuanceRequested(request.at, 5, {"japan": 1})),
                 [], TOKYO, jst("09-30"))


def test_a_tpe():
    start = CaseStart("tpe", "MN", jst("03-02"))
    events = [ProposalDistributed(jst("03-03"), "MN-P-2026-007"), DecisionAdopted(jst("03-24"), "approve")]
    assert evaluate(start, [], TOKYO, jst("03-20")).state == "applied"
    assert evaluate(start, events[:1], TOKYO, jst("03-20")).state == "awaiting_decision"
    designated = evaluate(start, events, TOKYO, jst("03-25"))
    assert designated.state == "designated" and designated.number is None and designated.windows == {}


def test_the_trace_explains():
    view = methodology(APPROVED, jst("04-20"))
    assert [s.kind for s in view.trace] == ["submitted", "check complete", "input_confirmed", WINDOW_CLOSES,
                                            "proposal_distributed", "decision approve"]
    assert transition("methodology", "awaiting_decision", "decision approve").gives == "AM"


# ---- case files (jcbot cycle simulate) ---------------------------------------------

def test_a_case_file_reads_into_typed_events():
    from jcbot.core.cycle.casefile import parse

    start, events, when = parse({
        "case": {"kind": "issuance"}, "submitted_at": "2026-01-01T00:00:00Z",
        "events": [{"at": "2026-01-02T00:00:00Z", "check": "incomplete", "reason": "no form"},
                   {"at": "2026-01-03T00:00:00Z", "decision_adopted": {"outcome": "reject"}},
                   {"at": "2026-01-04T00:00:00Z", "issuance_requested": {"amount": 3, "shares": {"japan": 3}}}],
    }, TOKYO)
    assert start == CaseStart("project", "JC", at("2026-01-01T00:00:00+00:00"), seq=1)  # the rules' code; a project's timeline
    assert events == [Check(at("2026-01-02T00:00:00+00:00"), False, "no form"),
                      DecisionAdopted(at("2026-01-03T00:00:00+00:00"), "reject", seq=1),
                      IssuanceRequested(at("2026-01-04T00:00:00+00:00"), 3, {"japan": 3})]
    assert when is None


def test_a_simulation_checks_events_after_evaluate_at_and_defaults_to_the_last_window_end():
    from jcbot.core.cycle.casefile import CaseFileError, simulate

    data = {"case": {"kind": "methodology", "committee_code": "MN"}, "submitted_at": "2026-03-02T10:00:00+09:00",
            "events": [{"at": "2026-03-05T10:00:00+09:00", "check": "complete"}]}
    assert simulate(data, TOKYO).view.evaluated_at == jst("03-21", "00:00")
    data["events"].append({"at": "2026-03-06T10:00:00+09:00", "check": "complete"})
    data["evaluate_at"] = "2026-03-04T00:00:00+09:00"
    with pytest.raises(CaseFileError, match=r"^events\[1\]\.check: check complete is not allowed"):
        simulate(data, TOKYO)
