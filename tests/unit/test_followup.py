"""The dispatcher's pure rules: what follows an ended call (docs/procedure.md §5.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.domain.followup import (
    EndedCall,
    LineRequest,
    follow_up,
    next_in_chain,
    unreachable_streak,
)

ENDED = datetime(2026, 12, 22, 22, 5, tzinfo=UTC)
MORNING = datetime(2026, 12, 26, 7, 0, tzinfo=UTC)
LINES = ("+33639980101", "+33639980102")
FAXES = ("+33199001101",)


def ended(action: str | None, reached: bool = False, **kw) -> EndedCall:
    values = {
        "call_id": 7,
        "ended_at": ENDED,
        "action": action,
        "call_at": None,
        "call_numbers": LINES,
        "fax_numbers": FAXES,
        "reached": reached,
    }
    return EndedCall(**{**values, **kw})


def kinds(call: EndedCall) -> list[tuple[str, str]]:
    return [(job.kind, job.key) for job in follow_up(call)]


def test_call_now_not_reached_calls_and_texts_the_line_and_the_sheet_waits():
    jobs = follow_up(ended("call_now"))
    assert [j.kind for j in jobs] == ["call_line", "sms"]
    assert jobs[0].payload == {
        "role": "technician",
        "numbers": list(LINES),
        "index": 0,
        "round": 1,
        "purpose": "request",
    }
    assert jobs[0].due_at == ENDED and jobs[1].payload["to"] == LINES[0]


def test_call_now_reached_in_the_call_only_the_sheet():
    assert kinds(ended("call_now", reached=True)) == [("sheet", "sheet:7:+33199001101")]


def test_next_morning_the_call_and_text_at_the_rules_time_and_the_sheet_now():
    jobs = follow_up(ended("call_next_morning", call_at=MORNING))
    assert [(j.kind, j.due_at) for j in jobs] == [
        ("call_line", MORNING),
        ("sms", MORNING),
        ("sheet", ENDED),
    ]
    assert jobs[0].payload["purpose"] == "next_morning"


def test_danger_not_reached_the_manager_chain_ends_on_the_national_number():
    call = ended(
        "escalate",
        call_numbers=("+33639980201",),
        fax_numbers=("+33199001101", "+33199000901"),
        national_duty_number="+33199009999",
    )
    jobs = follow_up(call)
    assert [j.kind for j in jobs] == ["call_line", "sms", "sheet", "sheet"]
    assert jobs[0].payload["numbers"] == ["+33639980201", "+33199009999"]
    assert jobs[0].payload["role"] == "manager"


def test_danger_reached_texted_all_the_same_and_sheets_to_both_faxes():
    call = ended("escalate", reached=True, fax_numbers=("+33199001101", "+33199000901"))
    assert [k for k, _ in kinds(call)] == ["sms", "sheet", "sheet"]


def test_danger_with_nobody_to_call_still_sends_the_sheets():
    call = ended("escalate", call_numbers=(), fax_numbers=("+33199001101",))
    assert [k for k, _ in kinds(call)] == ["sheet"]


@pytest.mark.parametrize("action", ["fax_only"])
def test_fax_only_the_sheet(action):
    assert [k for k, _ in kinds(ended(action, call_numbers=()))] == ["sheet"]


def test_not_covered_a_message_for_the_agency_its_sheet_and_nobody_called():
    jobs = follow_up(ended("not_covered", call_numbers=(), fax_numbers=(), agency_fax="+3301"))
    assert [(job.kind, job.payload) for job in jobs] == [("sheet", {"to": "+3301"})]


@pytest.mark.parametrize("action", ["not_covered", "legacy", None])
def test_nothing_to_do(action):
    """Legacy: the agency's own arrangement took the call. Not covered without an agency
    (an unidentified caller who gave no postcode): no fax to send to."""
    assert follow_up(ended(action, reached=True)) == []


def test_a_call_the_legacy_arrangement_did_not_take_is_faxed_to_its_agency():
    jobs = follow_up(ended("legacy", call_numbers=("+3302",), reached=False, agency_fax="+3301"))
    assert [(job.kind, job.payload) for job in jobs] == [("sheet", {"to": "+3301"})]


def test_planning_twice_gives_the_same_keys():
    assert kinds(ended("call_now")) == kinds(ended("call_now"))


def test_the_chain_next_line_then_a_later_round_then_exhausted():
    later = ENDED + timedelta(minutes=10)
    first = follow_up(ended("call_now"))[0].payload
    second = next_in_chain(7, first, ENDED, later, rounds=2)
    assert second is not None and (second.payload["index"], second.due_at) == (1, ENDED)
    third = next_in_chain(7, second.payload, ENDED, later, rounds=2)
    assert third is not None and (third.payload["index"], third.payload["round"]) == (0, 2)
    assert third.due_at == later
    fourth = next_in_chain(7, third.payload, ENDED, later, rounds=2)
    assert fourth is not None
    assert next_in_chain(7, fourth.payload, ENDED, later, rounds=2) is None
    keys = [follow_up(ended("call_now"))[0].key, second.key, third.key, fourth.key]
    assert len(set(keys)) == 4


def request(call_id: int, minutes: int, reached: bool) -> LineRequest:
    return LineRequest(call_id, ENDED + timedelta(minutes=minutes), reached)


def test_the_unreachable_streak_counts_back_to_the_last_reach():
    requests = [request(1, 0, False), request(2, 10, True), request(3, 20, False)]
    assert [r.call_id for r in unreachable_streak(requests)] == [3]
    requests.append(request(4, 30, False))
    assert [r.call_id for r in unreachable_streak(list(reversed(requests)))] == [3, 4]


def test_a_reach_resets_the_count():
    assert unreachable_streak([request(1, 0, False), request(2, 5, True)]) == []
