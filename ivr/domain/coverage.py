"""Coverage gaps: the hours of the week an agency's windows leave its clients without an
on-call technician.

A window missing or cut short goes unnoticed until a client calls then: in an agency whose
Sunday windows end at midnight and whose weekday nights start at 18:00, a school boiler room
calling on Monday at 02:00 gets the fax only. What each covered contract expects:

- `collective` and `boiler_room`: a technician at every hour outside business hours (the
  evenings, the nights, the weekend);
- `individual_7_7`: a technician in the weekend's daytime only. In the evening and the night
  the technician's rest comes first and such calls wait for the morning by rule (the 7/7
  rest rule, docs/rules.md), so those hours are no gap.

The hours are judged by the rules that route calls (`oncall.window_at`, `morning_after`,
`daytime_start`), on a reference week without public holidays or clock change, so the two
never disagree; what a gap costs is what routing decides then: the technician called at the
start of the next daytime shift, or the sheet faxed and nobody called. Public holidays have
rows of their own (`holiday`) and are not judged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import pairwise

from ivr.domain.model import ONCALL_TYPE_OF_CONTRACT, Contract, Directory, OnCallWindow
from ivr.domain.oncall import (
    EVENING,
    WORKING_DAY_OPENING,
    daytime_start,
    is_weekend_or_holiday,
    local,
    local_date,
    morning_after,
    window_at,
)

DAY = 24 * 60  # minutes
WEEK = 7 * DAY
# A Monday whose week has no public holiday in any French department and no clock change:
# the typical week windows are judged on (their rows name days of the week, not dates).
REFERENCE_MONDAY = date(2027, 1, 11)
COVERED_CONTRACTS = tuple(ONCALL_TYPE_OF_CONTRACT)


@dataclass(frozen=True, slots=True)
class Gap:
    """Hours of a typical week when clients of `contract` expect a technician on call and
    no window of theirs has one. In minutes from Monday 00:00; a gap running over Sunday
    midnight ends past `WEEK`."""

    contract: Contract
    start: int
    end: int
    call_at: int | None  # when the technician is called instead; None: nobody, the fax only


@dataclass(frozen=True, slots=True)
class Hours:
    """Gaps of the same hours on several days, said once for people: from `start` on each
    of `days` (0 is Monday), for `length` minutes, for clients of each of `contracts`."""

    contracts: tuple[Contract, ...]
    days: tuple[int, ...]
    start: time
    length: int
    call_at: time | None  # the next daytime shift's start, when the technician is called


def coverage_gaps(directory: Directory, cia: str) -> list[Gap]:
    """Where agency `cia`'s windows leave its covered contracts without a technician."""
    department = directory.agencies[cia].department
    return [
        Gap(contract, start, end, call_at)
        for contract in COVERED_CONTRACTS
        for start, end, call_at in _gaps(
            directory.windows_for(cia, ONCALL_TYPE_OF_CONTRACT[contract]),
            department,
            rests_at_night=contract is Contract.INDIVIDUAL_7_7,
        )
    ]


def grouped(gaps: list[Gap]) -> list[Hours]:
    """The gaps said shortly: the same hours on several days once, and contracts whose gaps
    are the same hours together (an agency's `all` windows leave them alike)."""
    days: dict[tuple[Contract, int, int, time | None], list[int]] = {}
    for gap in gaps:
        call_at = _clock(gap.call_at) if gap.call_at is not None else None
        key = (gap.contract, gap.start % DAY, gap.end - gap.start, call_at)
        days.setdefault(key, []).append(gap.start // DAY)
    contracts: dict[tuple[tuple[int, ...], int, int, time | None], list[Contract]] = {}
    for (contract, start, length, call_at), on in days.items():
        contracts.setdefault((tuple(on), start, length, call_at), []).append(contract)
    ordered = sorted(contracts.items(), key=lambda item: item[0][:3])
    return [
        Hours(tuple(who), on, _clock(start), length, call_at)
        for (on, start, length, call_at), who in ordered
    ]


def _clock(minutes: int) -> time:
    """The time of day `minutes` after a Monday's midnight shows."""
    minutes %= DAY
    return time(minutes // 60, minutes % 60)


def _gaps(
    windows: tuple[OnCallWindow, ...], department: str, rests_at_night: bool
) -> tuple[tuple[int, int, int | None], ...]:
    monday = local(REFERENCE_MONDAY, time(0, 0))
    spans: list[tuple[int, int, int | None]] = []
    for begin, end in pairwise(_moments(windows, department)):
        # Nothing the rules look at changes between two moments: judge the span by its start.
        if not _expects_cover(windows, begin, department, rests_at_night):
            continue
        if window_at(windows, begin, department) is not None:
            continue
        morning = morning_after(windows, begin, department)
        instead = daytime_start(windows, morning, department) if morning else None
        start, stop = _minutes(begin, monday), _minutes(end, monday)
        call_at = _minutes(instead, monday) if instead else None
        if spans and spans[-1][1] == start and spans[-1][2] == call_at:
            spans[-1] = (spans[-1][0], stop, call_at)
        else:
            spans.append((start, stop, call_at))
    return tuple(_across_sunday_midnight(spans))


def _moments(windows: tuple[OnCallWindow, ...], department: str) -> list[datetime]:
    """The reference week's instants where a window opens or closes, a day starts, the
    working day opens or the evening starts; with the week's end."""
    times = {time(0, 0), WORKING_DAY_OPENING, EVENING}
    times |= {w.start for w in windows} | {w.end for w in windows}
    days = [REFERENCE_MONDAY + timedelta(days=n) for n in range(7)]
    moments = {local(day, at) for day in days for at in times}
    moments.add(local(REFERENCE_MONDAY + timedelta(days=7), time(0, 0)))
    return sorted(moments)


def _expects_cover(
    windows: tuple[OnCallWindow, ...], instant: datetime, department: str, rests_at_night: bool
) -> bool:
    night = morning_after(windows, instant, department) is not None
    day_off = is_weekend_or_holiday(local_date(instant), department)
    if rests_at_night:
        return day_off and not night
    return day_off or night


def _minutes(instant: datetime, monday: datetime) -> int:
    return int((instant - monday).total_seconds()) // 60


def _across_sunday_midnight(
    spans: list[tuple[int, int, int | None]],
) -> list[tuple[int, int, int | None]]:
    """A gap from Sunday evening into Monday is one gap, not two: the week wraps."""
    if len(spans) < 2:
        return spans
    first, last = spans[0], spans[-1]
    same_call = first[2] is None and last[2] is None
    if first[0] == 0 and last[1] == WEEK and same_call:
        return [*spans[1:-1], (last[0], WEEK + first[1], None)]
    return spans
