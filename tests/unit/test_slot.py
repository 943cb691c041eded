"""A time slot the technician keys as a day of the month and an hour, as the client and the
agency read it (ivr.domain.outcomes.slot_said): pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ivr.domain.outcomes import slot_said

NIGHT = datetime(2026, 12, 30, 22, 30, tzinfo=UTC)  # Wednesday 30 December, 23:30 in Paris


@pytest.mark.parametrize(
    ("day", "hour", "said"),
    [
        (30, 23, "le mercredi 30 décembre à 23 heures"),  # today
        (31, 9, "le jeudi 31 décembre à 9 heures"),
        (2, 14, "le samedi 2 janvier à 14 heures"),  # next month's: never a day gone by
        (3, 0, "le dimanche 3 janvier à minuit"),
        (1, 9, "le vendredi 1er janvier à 9 heures"),  # « premier », not « un »
    ],
)
def test_the_day_keyed_is_the_next_such_day_said_in_full(day, hour, said):
    assert slot_said(day, hour, NIGHT) == said


def test_a_31st_keyed_in_a_short_month_is_the_next_month_that_has_one():
    november = datetime(2026, 11, 5, 12, tzinfo=UTC)
    assert slot_said(31, 10, november) == "le jeudi 31 décembre à 10 heures"


def test_after_midnight_in_paris_today_is_the_new_day():
    just_after = datetime(2026, 12, 30, 23, 30, tzinfo=UTC)  # 00:30 on the 31st in Paris
    assert slot_said(30, 9, just_after) == "le samedi 30 janvier à 9 heures"
