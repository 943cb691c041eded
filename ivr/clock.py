"""The program's one clock.

Everything that needs "now" asks a Clock. With `IVR_CLOCK` set, the clock starts at that
instant when the process starts and runs on in real time, so that a demo, a training session
or a test can live on Christmas Eve at 23:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def _system_now() -> datetime:
    """The only read of the wall clock in the program."""
    return datetime.now(UTC)


class Clock:
    """Now, as an aware UTC datetime, possibly shifted to start at a chosen instant."""

    def __init__(self, start_at: datetime | None = None) -> None:
        self._offset = timedelta(0)
        if start_at is not None:
            self.jump_to(start_at)

    def now(self) -> datetime:
        return _system_now() + self._offset

    def local_now(self) -> datetime:
        return self.now().astimezone(PARIS)

    def jump_to(self, instant: datetime) -> None:
        """Make `now()` return `instant` from here on, running on in real time."""
        if instant.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._offset = instant - _system_now()


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
