"""When an agency is on call: public holidays, window instances, on-call days, nights.

All reasoning is in Europe/Paris wall-clock time (windows are written that way) and every
comparison between instants is made in UTC, so that the two daylight-saving changes need no
special case: a window 18:00-08:00 across the October change simply lasts 15 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

from ivr.domain.local_time import PARIS
from ivr.domain.model import HOLIDAY, WEEKDAYS, ManagerShift, OnCallWindow

# `holidays` names Alsace-Moselle's calendars by subdivision, not by department.
_HOLIDAY_SUBDIVISION = {"57": "57", "67": "6AE", "68": "6AE"} | {
    d: d for d in ("971", "972", "973", "974", "976")
}
_MORNING_EARLIEST = time(5, 0)
_MORNING_LATEST = time(12, 0)
EVENING = time(18, 0)
_MICROSECOND = timedelta(microseconds=1)
WORKING_DAY_OPENING = time(8, 0)


@lru_cache(maxsize=256)
def _holidays(department: str, year: int) -> frozenset[date]:
    calendar = holidays.country_holidays(
        "FR", years=year, subdiv=_HOLIDAY_SUBDIVISION.get(department.upper())
    )
    return frozenset(calendar)


def is_public_holiday(day: date, department: str) -> bool:
    """A French public holiday for an agency of that department (Alsace-Moselle included)."""
    return day in _holidays(department, day.year)


def is_weekend_or_holiday(day: date, department: str) -> bool:
    return day.weekday() >= 5 or is_public_holiday(day, department)


def agency_opening(instant: datetime, department: str) -> datetime | None:
    """When an agency next opens to see to a request sent to it (a working day, from 08:00
    to 18:00): None while it is open."""
    wall = instant.astimezone(PARIS)
    day, now = wall.date(), wall.time()
    if not is_weekend_or_holiday(day, department) and WORKING_DAY_OPENING <= now < EVENING:
        return None
    if now >= WORKING_DAY_OPENING:
        day += timedelta(days=1)
    while is_weekend_or_holiday(day, department):
        day += timedelta(days=1)
    return local(day, WORKING_DAY_OPENING)


def local(day: date, at: time) -> datetime:
    """The instant a French clock first shows `at` on `day`, or passes it.

    A time repeated by the autumn change is its first occurrence. A time skipped by the
    spring change (02:30) is the instant the clock jumps past it (03:00 summer time): a
    window "02:30-08:00" has begun at 03:10, and one "18:00-02:30" is over.
    """
    wall = datetime.combine(day, at)
    instant = wall.replace(tzinfo=PARIS)
    if instant.astimezone(UTC).astimezone(PARIS).replace(tzinfo=None) == wall:
        return instant
    before, after = wall.replace(tzinfo=PARIS, fold=1).astimezone(UTC), instant.astimezone(UTC)
    while after - before > _MICROSECOND:  # bisect for the jump: about 32 steps
        middle = before + (after - before) / 2
        if middle.astimezone(PARIS).replace(tzinfo=None) >= wall:
            after = middle
        else:
            before = middle
    return after.astimezone(PARIS)


def local_date(instant: datetime) -> date:
    return instant.astimezone(PARIS).date()


@dataclass(frozen=True, slots=True)
class WindowInstance:
    """One occurrence of an on-call window: start inclusive, end exclusive (aware datetimes)."""

    window: OnCallWindow
    start: datetime
    end: datetime

    def contains(self, instant: datetime) -> bool:
        return _utc(self.start) <= _utc(instant) < _utc(self.end)


def _utc(instant: datetime) -> datetime:
    # Aware datetimes sharing one tzinfo compare by wall clock in Python; UTC avoids that trap.
    return instant.astimezone(UTC)


def windows_starting_on(
    windows: Iterable[OnCallWindow], day: date, department: str
) -> list[WindowInstance]:
    """The instances that start on `day`: on a public holiday only rows listing `holiday`."""
    return list(_instances_starting_on(tuple(windows), day, department))


@lru_cache(maxsize=4096)  # pure, and asked for the same agencies' days at every decision
def _instances_starting_on(
    windows: tuple[OnCallWindow, ...], day: date, department: str
) -> tuple[WindowInstance, ...]:
    kind = HOLIDAY if is_public_holiday(day, department) else WEEKDAYS[day.weekday()]
    instances = []
    for window in windows:
        if kind not in window.days:
            continue
        end_day = day if window.end > window.start else day + timedelta(days=1)
        instances.append(
            WindowInstance(window, local(day, window.start), local(end_day, window.end))
        )
    return tuple(sorted(instances, key=lambda i: _utc(i.start)))


def window_at(
    windows: Iterable[OnCallWindow], instant: datetime, department: str
) -> WindowInstance | None:
    """The window instance `instant` falls in (the on-call period), or None.

    A window lasts at most a day, so only those starting the day before or that day can
    cover the instant. On an overlap, the one that started first.
    """
    windows = tuple(windows)
    today = local_date(instant)
    for day in (today - timedelta(days=1), today):
        for instance in windows_starting_on(windows, day, department):
            if instance.contains(instant):
                return instance
    return None


def daytime_start(windows: Iterable[OnCallWindow], day: date, department: str) -> datetime | None:
    """When `day`'s daytime shift starts, if `day` is an on-call day; else None.

    An on-call day is a Saturday, Sunday or public holiday with a window starting between
    05:00 and 12:00 (docs/procedure.md, special cases).
    """
    if not is_weekend_or_holiday(day, department):
        return None
    for instance in windows_starting_on(windows, day, department):
        if _MORNING_EARLIEST <= instance.window.start <= _MORNING_LATEST:
            return instance.start
    return None


def morning_after(
    windows: Iterable[OnCallWindow], instant: datetime, department: str
) -> date | None:
    """The day whose morning ends the evening or night `instant` is in, or None by day.

    The evening starts at 18:00; the night runs to the next morning: to the start of the
    daytime shift on an on-call day, to 08:00 on any other day.
    """
    windows = tuple(windows)
    wall = instant.astimezone(PARIS)
    if wall.time() >= EVENING:
        return wall.date() + timedelta(days=1)
    morning = daytime_start(windows, wall.date(), department) or local(
        wall.date(), WORKING_DAY_OPENING
    )
    return wall.date() if _utc(instant) < _utc(morning) else None


def planning_holes(
    shifts: Iterable[ManagerShift], start: datetime, end: datetime
) -> list[tuple[str, datetime, datetime]]:
    """Where a region's planning of managers on duty fails between `start` and `end`:
    ("gap", from, to) when nobody is on duty, ("overlap", from, to) when two are."""
    ordered = sorted(
        (s for s in shifts if _utc(s.end) > _utc(start) and _utc(s.start) < _utc(end)),
        key=lambda s: _utc(s.start),
    )
    holes: list[tuple[str, datetime, datetime]] = []
    first, last = _utc(start), _utc(end)
    covered_to: datetime | None = None  # the end of the shifts seen so far
    for shift in ordered:
        s_start, s_end = _utc(shift.start), _utc(shift.end)
        since = covered_to or first
        if s_start > since:
            holes.append(("gap", since, s_start))
        elif covered_to is not None and s_start < covered_to:
            holes.append(("overlap", max(s_start, first), min(covered_to, s_end)))
        covered_to = max(covered_to or s_end, s_end)
    if covered_to is None or covered_to < last:
        holes.append(("gap", covered_to or first, last))
    return holes
