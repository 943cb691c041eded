"""When an agency next opens to see to a request faxed to it (what a fax-only caller is told):
a working day from 08:00 to 18:00, Alsace-Moselle's holidays included."""

from __future__ import annotations

from datetime import datetime

import pytest

from ivr.domain.local_time import PARIS
from ivr.domain.oncall import agency_opening


def paris(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS)


@pytest.mark.parametrize(
    ("at", "department", "opens"),
    [
        ("2026-12-22 23:00", "75", "2026-12-23 08:00"),  # a Tuesday night: Wednesday morning
        ("2026-12-23 06:30", "75", "2026-12-23 08:00"),  # before the opening: this morning
        ("2026-12-23 10:00", "75", None),  # open
        ("2026-12-23 18:00", "75", "2026-12-24 08:00"),  # closed at 18:00
        ("2026-12-27 15:00", "51", "2026-12-28 08:00"),  # a Sunday: Monday
        ("2026-12-24 20:00", "75", "2026-12-28 08:00"),  # Christmas, then the weekend
        ("2026-12-24 20:00", "57", "2026-12-28 08:00"),  # Moselle: 26 December too
        ("2026-12-25 10:00", "67", "2026-12-28 08:00"),
        ("2027-03-25 19:00", "57", "2027-03-30 08:00"),  # Good Friday in Moselle, Easter Monday
        ("2027-03-25 19:00", "75", "2027-03-26 08:00"),  # Good Friday is worked in Paris
    ],
)
def test_the_next_opening(at, department, opens):
    expected = paris(opens) if opens else None
    assert agency_opening(paris(at), department) == expected
