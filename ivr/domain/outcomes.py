"""What came of a request, as the technician or the manager who took it reports it (§6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from babel.dates import format_date

from ivr.domain.labelled import Labelled
from ivr.domain.local_time import in_paris
from ivr.domain.spoken import hour_said


class RequestOutcome(Labelled):
    """Its label is what the agency's follow-up sheet and the back office say."""

    ACKNOWLEDGED = "acknowledged", "pris en charge"  # they see to it (call the client back)
    SOLVED = "solved", "résolu à distance"
    NOT_OURS = "not_ours", "hors de notre ressort (réseau gaz ou électricité)"
    SLOT = "slot", "rendez-vous convenu"
    ON_MY_WAY = "on_my_way", "technicien en route"

    @property
    def final(self) -> bool:
        """An outcome the agency is sent a follow-up sheet for (not merely taken in hand)."""
        return self is not RequestOutcome.ACKNOWLEDGED


@dataclass(frozen=True)
class Report:
    """What the person who took a request in hand said came of it."""

    outcome: RequestOutcome
    by: str  # their number
    slot: str | None = None  # the time slot agreed (`slot_said`)


def slot_said(day: int, hour: int, now: datetime) -> str:
    """A time slot keyed as a day of the month and an hour, as the client and the agency read
    it: that day next, from today (« le jeudi 24 décembre à 14 heures »; the 2nd keyed on the 30th
    is next month's)."""
    today = in_paris(now).date()
    days = (today + timedelta(days=n) for n in range(62))  # every day of a month comes in 62
    date = next((d for d in days if d.day == day), today)
    weekday, month = (format_date(date, part, locale="fr_FR") for part in ("EEEE", "MMMM"))
    number = "1er" if date.day == 1 else str(date.day)
    return f"le {weekday} {number} {month} à {hour_said(hour)}"
