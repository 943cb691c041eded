"""Dates and times as French readers expect them on sheets, screens and reasons."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from babel.dates import format_date, format_datetime

from ivr.domain.local_time import PARIS


@lru_cache(maxsize=4096)  # Babel is slow, and the same on-call periods are read again and again
def when(instant: datetime) -> str:
    """`samedi 26 décembre à 08:00`."""
    return str(format_datetime(instant.astimezone(PARIS), "EEEE d MMMM 'à' HH:mm", locale="fr_FR"))


def day(value: date) -> str:
    """`samedi 26 décembre 2026`."""
    return str(format_date(value, "EEEE d MMMM y", locale="fr_FR"))


def clock(instant: datetime) -> str:
    """`mardi 22 décembre 2026, 23:00:05` (a clock on a screen)."""
    return str(
        format_datetime(instant.astimezone(PARIS), "EEEE d MMMM y, HH:mm:ss", locale="fr_FR")
    )


def lasting(seconds: int) -> str:
    """`20 secondes`, `1 minute 5 secondes`."""
    minutes, rest = divmod(seconds, 60)
    said = [f"{minutes} minute{'s' if minutes > 1 else ''}"] if minutes else []
    return " ".join([*said, f"{rest} seconde{'s' if rest > 1 else ''}"] if rest else said)
