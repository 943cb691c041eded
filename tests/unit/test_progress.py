"""Where a request stands, as the client calling again hears it and as their text says it:
pure (ivr.domain.progress)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.domain.outcomes import RequestOutcome
from ivr.domain.phones import is_mobile
from ivr.domain.progress import Progress, progress_said, where_it_stands

CALLED = datetime(2026, 12, 18, 22, 10, tzinfo=UTC)  # 23:10 in Paris, a Friday
TAKEN = datetime(2026, 12, 18, 22, 25, tzinfo=UTC)
NOW = datetime(2026, 12, 18, 22, 40, tzinfo=UTC)  # 23:40


def progress(**facts) -> Progress:
    return Progress(request_id=7, **{"called_at": CALLED, "action": "call_now", **facts})


def test_when_they_called_then_the_technician_on_the_way():
    said = progress_said(progress(taken_at=TAKEN, outcome=RequestOutcome.ON_MY_WAY), NOW)
    assert said == (
        ("progress_called", {"when": "à 23 heures 10"}),
        ("progress_on_my_way", {"time": "23 heures 25"}),
    )


def test_a_request_of_yesterday_evening_is_said_so():
    after_midnight = datetime(2026, 12, 19, 0, 30, tzinfo=UTC)  # 01:30 on Saturday
    called, _ = progress_said(progress(), after_midnight)
    assert called == ("progress_called", {"when": "hier, à 23 heures 10"})


@pytest.mark.parametrize(
    ("facts", "said"),
    [
        ({"taken_at": TAKEN}, ("progress_taken", {"time": "23 heures 25"})),
        (
            {
                "taken_at": TAKEN,
                "outcome": RequestOutcome.SLOT,
                "slot": "le samedi 19 décembre à 9 heures",
            },
            ("progress_slot", {"time": "23 heures 25", "slot": "le samedi 19 décembre à 9 heures"}),
        ),
        ({"still_trying": True}, ("progress_trying", {})),
        ({}, ("progress_unreached", {})),  # the dispatcher's rounds are over
        (
            {"action": "call_next_morning", "call_at": datetime(2026, 12, 19, 7, tzinfo=UTC)},
            ("progress_next_morning", {"when": "demain samedi, à 8 heures"}),
        ),
        (  # 8 o'clock has passed: the morning's call is being made, or was
            {"action": "call_next_morning", "call_at": CALLED, "still_trying": True},
            ("progress_trying", {}),
        ),
        (  # Friday 23:40: the agency opens on Monday
            {"action": "fax_only", "department": "75"},
            ("progress_agency", {"opening": "dès son ouverture, lundi, à 8 heures"}),
        ),
        ({"action": "not_covered"}, ("progress_offices", {})),  # no agency: nobody's promise
    ],
)
def test_what_became_of_it_is_only_what_is_true(facts, said):
    assert where_it_stands(progress(**facts), NOW) == said


@pytest.mark.parametrize(
    ("department", "opening"),
    [
        ("75", "dès son ouverture, demain vendredi, à 8 heures"),
        ("57", "dès son ouverture, lundi, à 8 heures"),  # Moselle keeps the 26th of December
    ],
)
def test_the_agency_is_said_to_see_to_it_when_it_next_opens(department, opening):
    christmas = datetime(2025, 12, 25, 20, 0, tzinfo=UTC)  # a Thursday, 21:00
    request = progress(action="not_covered", department=department, called_at=christmas)
    assert where_it_stands(request, christmas) == ("progress_agency", {"opening": opening})


def test_while_the_agency_is_open_it_sees_to_it_today():
    monday = datetime(2026, 12, 21, 17, 0, tzinfo=UTC)  # 18:00 is closed, 17:59 open
    request = progress(action="fax_only", department="75", called_at=monday)
    assert where_it_stands(request, monday - timedelta(minutes=1)) == (
        "progress_agency",
        {"opening": "aujourd'hui"},
    )


@pytest.mark.parametrize(
    ("number", "mobile"),
    [
        ("+33611111111", True),
        ("+33639981001", True),
        ("+33145678901", False),
        ("+33800473333", False),
        (None, False),
    ],
)
def test_only_mobiles_are_texted(number, mobile):
    assert is_mobile(number) is mobile
