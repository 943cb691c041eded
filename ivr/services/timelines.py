"""The directory drawn for people: each agency's on-call windows as bars on a week, and each
region's planning of managers with its gaps and overlaps (the back office's reference page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.domain.model import (
    HOLIDAY,
    WEEKDAYS,
    Agency,
    Directory,
    ManagerShift,
    OnCallLine,
    OnCallWindow,
    Region,
)
from ivr.domain.oncall import planning_holes

WEEK = 7 * 24 * 60  # minutes
DAY = 24 * 60
PLANNED_AHEAD = timedelta(weeks=4)


@dataclass(frozen=True)
class Bar:
    """One on-call window on one day, in percent of the week from Monday 00:00."""

    left: float
    width: float
    type: str
    label: str


@dataclass(frozen=True)
class AgencyWeek:
    agency: Agency
    bars: list[Bar]
    holidays: list[OnCallWindow]  # the windows kept on public holidays
    lines: tuple[OnCallLine, ...]


@dataclass(frozen=True)
class RegionPlanning:
    region: Region
    shifts: list[ManagerShift]
    holes: list[tuple[str, datetime, datetime]]  # a gap or an overlap, from, to


def on_call_week(directory: Directory) -> list[AgencyWeek]:
    """Each agency's windows on a week; one ending the next day spills onto it, Sunday's onto
    Monday."""
    out = []
    for cia, agency in sorted(directory.agencies.items()):
        windows = directory.windows.get(cia, ())
        bars = [bar for window in windows for bar in _bars(window)]
        holidays = [w for w in windows if HOLIDAY in w.days]
        out.append(AgencyWeek(agency, bars, holidays, directory.lines.get(cia, ())))
    return out


def _bars(window: OnCallWindow) -> list[Bar]:
    start = window.start.hour * 60 + window.start.minute
    end = window.end.hour * 60 + window.end.minute
    length = (end - start) % DAY or DAY
    label = f"{window.start:%H:%M}–{window.end:%H:%M}"
    bars = []
    for day in window.days:
        if day in WEEKDAYS:
            begin = WEEKDAYS.index(day) * DAY + start
            for first, last in _wrapped(begin, begin + length):
                left, width = first / WEEK * 100, (last - first) / WEEK * 100
                bars.append(Bar(left, width, window.oncall_type.value, label))
    return bars


def _wrapped(start: int, end: int) -> list[tuple[int, int]]:
    """A span of the week, what runs past Sunday midnight put back on Monday."""
    if end <= WEEK:
        return [(start, end)]
    return [(start, WEEK), (0, end - WEEK)]


def managers_planning(directory: Directory, now: datetime) -> list[RegionPlanning]:
    """Each region's managers for the next four weeks, with gaps and overlaps."""
    until = now + PLANNED_AHEAD
    out = []
    for code, region in sorted(directory.regions.items()):
        planned = directory.shifts.get(code, ())
        shifts = [s for s in planned if s.end > now and s.start < until]
        out.append(RegionPlanning(region, shifts, planning_holes(planned, now, until)))
    return out
