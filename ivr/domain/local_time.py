"""Time as the procedure reads it: French local time (Europe/Paris, with its daylight-saving
changes). Instants are stored and compared in UTC; people read them in Paris."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
# The years an instant given to the program may name (an IVR_CLOCK, a `--at`).
FIRST_YEAR, LAST_YEAR = 2000, 2199


def in_paris(instant: datetime) -> datetime:
    """The instant on Paris clocks, with the offset Paris had then.

    Through UTC: `astimezone` returns a Paris datetime unchanged, even one naming a wall-clock
    time that the spring change skipped.
    """
    return instant.astimezone(UTC).astimezone(PARIS)


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; without an offset it is read as Europe/Paris local time.

    A local time repeated by the autumn change is its first occurrence; one skipped by the
    spring change is read with the winter offset (02:30 is 03:30 summer time).
    """
    value = datetime.fromisoformat(text.strip())
    if not FIRST_YEAR <= value.year <= LAST_YEAR:  # else a day or an offset added overflows
        raise ValueError(f"{text.strip()!r}: the year must be {FIRST_YEAR} to {LAST_YEAR}")
    if value.tzinfo is None:
        value = in_paris(value.replace(tzinfo=PARIS))
    return value
