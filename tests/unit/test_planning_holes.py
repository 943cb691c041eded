"""Gaps and overlaps in a region's planning of managers on duty (the back office flags them)."""

from __future__ import annotations

from datetime import UTC, datetime

from ivr.domain.model import ManagerShift
from ivr.domain.oncall import planning_holes


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, tzinfo=UTC)


def shift(start: datetime, end: datetime, name: str = "A") -> ManagerShift:
    return ManagerShift("IDF", name, "+33639980201", start, end)


def test_a_continuous_planning_has_no_holes():
    shifts = [shift(at(1, 8), at(8, 8)), shift(at(8, 8), at(15, 8), "B")]
    assert planning_holes(shifts, at(2, 0), at(14, 0)) == []


def test_a_gap_between_two_shifts_and_at_the_end():
    shifts = [shift(at(1, 8), at(8, 8)), shift(at(8, 20), at(10, 8), "B")]
    assert planning_holes(shifts, at(1, 8), at(12, 0)) == [
        ("gap", at(8, 8), at(8, 20)),
        ("gap", at(10, 8), at(12, 0)),
    ]


def test_an_overlap_is_flagged_for_its_length():
    shifts = [shift(at(1, 8), at(8, 8)), shift(at(7, 8), at(15, 8), "B")]
    assert planning_holes(shifts, at(1, 8), at(15, 8)) == [("overlap", at(7, 8), at(8, 8))]


def test_no_planning_at_all_is_one_gap():
    assert planning_holes([], at(1, 0), at(2, 0)) == [("gap", at(1, 0), at(2, 0))]
