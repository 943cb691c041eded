"""The directory drawn for people: each agency's on-call windows as bars on a week, and each
region's planning of managers with its gaps and overlaps (the back office's reference page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.domain.coverage import Hours, coverage_gaps, grouped
from ivr.domain.model import (
    HOLIDAY,
    ONCALL_TYPE_OF_CONTRACT,
    WEEKDAYS,
    Agency,
    Directory,
    ManagerShift,
    OnCallLine,
    OnCallType,
    OnCallWindow,
    Region,
)
from ivr.domain.oncall import planning_holes
from ivr.domain.phones import digit_pairs

WEEK = 7 * 24 * 60  # minutes
DAY = 24 * 60
PLANNED_AHEAD = timedelta(weeks=4)
# On-call types as the back office says them: whose calls each answers.
ONCALL_TYPE_NAMES = {
    OnCallType.ALL: "tous contrats",
    OnCallType.INDIVIDUAL: "particuliers 7/7",
    OnCallType.COLLECTIVE: "collectifs",
    OnCallType.BOILER_ROOM: "chaufferies",
}
DAY_NAMES = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")


@dataclass(frozen=True)
class Bar:
    """One on-call window on one day, in percent of the week from Monday 00:00."""

    left: float
    width: float
    type: str  # the on-call type's code: the bar's colour
    label: str  # what it says in words: `tous contrats, 18:00–08:00`


@dataclass(frozen=True)
class AgencyWeek:
    agency: Agency
    bars: list[Bar]
    windows: list[str]  # the same in words (public holidays too): colour is not the only cue
    lines: list[str]
    gaps: list[str]  # hours its windows leave clients who expect cover without a technician


@dataclass(frozen=True)
class RegionPlanning:
    region: Region
    shifts: list[ManagerShift]
    holes: list[tuple[str, datetime, datetime]]  # a gap or an overlap, from, to
    on_duty: tuple[ManagerShift, ...]  # the shifts under way now


def on_call_week(directory: Directory) -> list[AgencyWeek]:
    """Each agency's windows on a week; one ending the next day spills onto it, Sunday's onto
    Monday. The same in words, its lines, and the hours its windows leave uncovered."""
    out = []
    for cia, agency in sorted(directory.agencies.items()):
        windows = directory.windows.get(cia, ())
        bars = [bar for window in windows for bar in _bars(window)]
        lines = [_line(line) for line in sorted(directory.lines.get(cia, ()), key=_by_type)]
        gaps = [_gap(hours) for hours in grouped(coverage_gaps(directory, cia))]
        out.append(AgencyWeek(agency, bars, [_window(w) for w in windows], lines, gaps))
    return out


def _bars(window: OnCallWindow) -> list[Bar]:
    start = window.start.hour * 60 + window.start.minute
    end = window.end.hour * 60 + window.end.minute
    length = (end - start) % DAY or DAY
    hours = "toute la journée" if start == end == 0 else f"{window.start:%H:%M}–{window.end:%H:%M}"
    label = f"{ONCALL_TYPE_NAMES[window.oncall_type]}, {hours}"
    bars = []
    for day in window.days:
        if day in WEEKDAYS:
            begin = WEEKDAYS.index(day) * DAY + start
            for first, last in _wrapped(begin, begin + length):
                left, width = first / WEEK * 100, (last - first) / WEEK * 100
                bars.append(Bar(left, width, window.oncall_type.value, label))
    return bars


def _window(window: OnCallWindow) -> str:
    """`tous contrats : lun.–ven. de 18:00 à 08:00 le lendemain`."""
    days = _days([WEEKDAYS.index(d) for d in window.days if d in WEEKDAYS])
    if HOLIDAY in window.days:
        days = f"{days}, jours fériés" if days else "jours fériés"
    start = window.start.hour * 60 + window.start.minute
    end = window.end.hour * 60 + window.end.minute
    if start == end == 0:
        hours = "toute la journée"
    elif end == 0:
        hours = f"de {window.start:%H:%M} à 24:00"
    else:
        later = " le lendemain" if end <= start else ""
        hours = f"de {window.start:%H:%M} à {window.end:%H:%M}{later}"
    return f"{ONCALL_TYPE_NAMES[window.oncall_type]} : {days} {hours}"


def _by_type(line: OnCallLine) -> tuple[int, int]:
    return list(ONCALL_TYPE_NAMES).index(line.oncall_type), line.priority


def _line(line: OnCallLine) -> str:
    """`1. 06 39 98 01 01 (tous contrats)`, with its label when it has one."""
    label = f", {line.label}" if line.label else ""
    number = digit_pairs(line.mobile)  # as every other page shows a number
    return f"{line.priority}. {number} ({ONCALL_TYPE_NAMES[line.oncall_type]}{label})"


def _gap(hours: Hours) -> str:
    """`collectifs et chaufferies : lun. de 00:00 à 08:00 ; personne n’est appelé, ...`."""
    who = " et ".join(ONCALL_TYPE_NAMES[ONCALL_TYPE_OF_CONTRACT[c]] for c in hours.contracts)
    start = hours.start.hour * 60 + hours.start.minute
    spill = (start + hours.length - 1) // DAY  # the days the gap runs into
    end = start + hours.length - spill * DAY  # 24:00 when it ends at midnight
    if spill >= 2 and len(hours.days) == 1:
        last = DAY_NAMES[(hours.days[0] + spill) % 7]
        when = f"du {DAY_NAMES[hours.days[0]]} {hours.start:%H:%M} au {last} {_hhmm(end)}"
    else:
        later = {0: "", 1: " le lendemain"}.get(spill, f", {spill} jours plus tard")
        when = f"{_days(list(hours.days))} de {hours.start:%H:%M} à {_hhmm(end)}{later}"
    instead = (
        f"le technicien n’est appelé qu’à {hours.call_at:%H:%M}, au début de l’astreinte de jour"
        if hours.call_at
        else "personne n’est appelé, la fiche est faxée à l’agence"
    )
    return f"{who} : {when} ; {instead}"


def _days(days: list[int]) -> str:
    """`lun.–ven.` for a run of three days or more, else `sam., dim.`."""
    days = sorted(days)
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{DAY_NAMES[days[0]]}–{DAY_NAMES[days[-1]]}"
    return ", ".join(DAY_NAMES[d] for d in days)


def _hhmm(minutes: int) -> str:
    """A time of day from minutes since midnight; 24:00 is the day's end."""
    return f"{minutes // 60:02}:{minutes % 60:02}"


def _wrapped(start: int, end: int) -> list[tuple[int, int]]:
    """A span of the week, what runs past Sunday midnight put back on Monday."""
    if end <= WEEK:
        return [(start, end)]
    return [(start, WEEK), (0, end - WEEK)]


def managers_planning(directory: Directory, now: datetime) -> list[RegionPlanning]:
    """Each region's managers for the next four weeks, with gaps and overlaps, and who is on
    duty now."""
    until = now + PLANNED_AHEAD
    out = []
    for code, region in sorted(directory.regions.items()):
        planned = directory.shifts.get(code, ())
        shifts = [s for s in planned if s.end > now and s.start < until]
        holes = planning_holes(planned, now, until)
        out.append(RegionPlanning(region, shifts, holes, directory.managers_on_duty(code, now)))
    return out
