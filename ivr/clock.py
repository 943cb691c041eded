"""The program's one clock.

Everything that needs "now" asks a Clock. With `IVR_CLOCK` set, the clock starts at that
instant when the process starts and runs on in real time, so that a demo, a training session
or a test can live on Christmas Eve at 23:00.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ivr.domain.local_time import PARIS


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
