"""Time as the procedure reads it: French local time (Europe/Paris, with its daylight-saving
changes). Instants are stored and compared in UTC; people read them in Paris."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
# The years an instant the program is told to run at may name (`given_instant`).
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
    if value.tzinfo is None:
        value = in_paris(value.replace(tzinfo=PARIS))
    return value


def given_instant(text: str) -> datetime:
    """An instant the program is told to run at (IVR_CLOCK, `--at`): as `parse_instant`,
    within the years it can run in (a day added to year 9999 overflows). The dates of the
    company's files go through `parse_instant`: a manager's turn may end in 9999."""
    if not FIRST_YEAR <= datetime.fromisoformat(text.strip()).year <= LAST_YEAR:
        raise ValueError(f"{text.strip()!r}: the year must be {FIRST_YEAR} to {LAST_YEAR}")
    return parse_instant(text)
