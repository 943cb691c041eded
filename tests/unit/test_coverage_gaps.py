"""Coverage gaps: the hours an agency's windows leave a covered contract without a technician,
judged as routing judges a call then."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from ivr.domain.coverage import (
    DAY,
    REFERENCE_MONDAY,
    WEEK,
    Gap,
    Hours,
    coverage_gaps,
    grouped,
)
from ivr.domain.model import Contract
from ivr.domain.oncall import is_public_holiday, local
from ivr.domain.routing import Action, Call, decide
from ivr.services.importing.directory import said
from tests.conftest import DEMO
from tests.unit.builders import directory, line, make_agency, make_client, mobile, window

COLLECTIVE, BOILER_ROOM, SEVEN_DAYS = (
    Contract.COLLECTIVE,
    Contract.BOILER_ROOM,
    Contract.INDIVIDUAL_7_7,
)
MON, TUE, FRI, SAT, SUN = 0, 1, 4, 5, 6


def at(day: int, hour: int, minute: int = 0) -> int:
    """A moment of the typical week, in minutes from Monday 00:00."""
    return day * DAY + hour * 60 + minute


def demo_rows(file: str, cia: str) -> list[list[str]]:
    """The demo's rows of one agency, as written in config/demo/."""
    text = (DEMO / file).read_text(encoding="utf-8")
    return [row.split(";") for row in text.splitlines()[1:] if row.startswith(f"{cia};")]


DEPARTMENTS = {"0751": "75", "0781": "78", "5701": "57", "5101": "51"}


def demo_directory():
    """The demo's agencies, windows and lines (regions and managers play no part here)."""
    return directory(
        agencies=[make_agency(cia, department=d) for cia, d in DEPARTMENTS.items()],
        windows=[
            window(*row) for cia in DEPARTMENTS for row in demo_rows("oncall_windows.csv", cia)
        ],
        lines=[
            line(cia, kind, mobile(n), int(priority))
            for cia in DEPARTMENTS
            for n, (_, kind, _number, _label, priority) in enumerate(
                demo_rows("oncall_lines.csv", cia)
            )
        ],
    )


def test_the_demos_metz_leaves_monday_night_uncovered_for_collective_and_boiler_rooms():
    """Metz's Sunday windows end at midnight and its weekday nights start at 18:00."""
    gaps = coverage_gaps(demo_directory(), "5701")
    assert gaps == [
        # 7/7 clients: the weekend's windows close at 17:00, the evening starts at 18:00.
        Gap(SEVEN_DAYS, at(SAT, 17), at(SAT, 18), None),
        Gap(SEVEN_DAYS, at(SUN, 17), at(SUN, 18), None),
        Gap(COLLECTIVE, at(MON, 0), at(MON, 8), None),
        Gap(BOILER_ROOM, at(MON, 0), at(MON, 8), None),
    ]
    assert grouped(gaps)[0] == Hours((COLLECTIVE, BOILER_ROOM), (MON,), time(0, 0), 8 * 60, None)


def test_a_school_boiler_room_calling_in_metzs_gap_gets_the_fax_only():
    rota = demo_directory()
    school = make_client("boiler_room", agency="5701", delay_label="intervention sous 2 heures")
    monday_2am = local(REFERENCE_MONDAY, time(2, 0))
    assert decide(Call(monday_2am, school), rota).action is Action.FAX_ONLY
    gap = next(g for g in coverage_gaps(rota, "5701") if g.contract is BOILER_ROOM)
    assert gap.start <= at(MON, 2) < gap.end and gap.call_at is None


def test_an_agency_on_call_every_hour_outside_business_hours_has_no_gap():
    assert coverage_gaps(demo_directory(), "0751") == []


@pytest.mark.parametrize("cia", list(DEPARTMENTS))
def test_gaps_say_what_routing_decides_at_every_half_hour_of_the_week(cia):
    """In a gap, the call is not put through now: it gets what the gap says (a call the next
    morning, or the fax only). Outside the gaps and business hours, a collective or boiler
    room client's call is put through now."""
    rota = demo_directory()
    gaps = coverage_gaps(rota, cia)
    for contract in (SEVEN_DAYS, COLLECTIVE, BOILER_ROOM):
        client = make_client(contract.value, agency=cia)
        for minute in range(0, WEEK, 30):
            instant = local(REFERENCE_MONDAY + timedelta(days=minute // DAY), _clock(minute))
            decision = decide(Call(instant, client), rota)
            gap = next((g for g in gaps if g.contract is contract and _inside(g, minute)), None)
            business_hours = minute // DAY < SAT and 8 * 60 <= minute % DAY < 18 * 60
            if gap is not None:
                expected = Action.CALL_NEXT_MORNING if gap.call_at is not None else Action.FAX_ONLY
                assert decision.action is expected, (contract, minute, decision.reason)
            elif contract is not SEVEN_DAYS and not business_hours:
                assert decision.action is Action.CALL_NOW, (contract, minute, decision.reason)


def test_a_friday_night_without_a_window_waits_for_saturdays_daytime_shift():
    rota = directory(
        agencies=[make_agency("0751")],
        windows=[
            window("0751", "all", "mon,tue,wed,thu", "18:00", "08:00"),
            window("0751", "all", "sat,sun", "08:00", "18:00"),
            window("0751", "all", "sat", "18:00", "08:00"),
        ],
    )
    gaps = [g for g in coverage_gaps(rota, "0751") if g.contract is COLLECTIVE]
    assert gaps == [
        Gap(COLLECTIVE, at(FRI, 18), at(SAT, 8), at(SAT, 8)),
        # Sunday evening into Monday is one gap; Monday is a working day: the fax only.
        Gap(COLLECTIVE, at(SUN, 18), WEEK + at(MON, 8), None),
    ]
    assert grouped(gaps) == [
        Hours((COLLECTIVE,), (FRI,), time(18, 0), 14 * 60, time(8, 0)),
        Hours((COLLECTIVE,), (SUN,), time(18, 0), 14 * 60, None),
    ]


def test_an_agency_without_windows_leaves_every_hour_outside_business_hours_uncovered():
    rota = directory(agencies=[make_agency("0751")])
    gaps = coverage_gaps(rota, "0751")
    for contract in (COLLECTIVE, BOILER_ROOM):
        mine = [g for g in gaps if g.contract is contract]
        assert sum(g.end - g.start for g in mine) == WEEK - 5 * 10 * 60
        assert Gap(contract, at(FRI, 18), WEEK + at(MON, 8), None) in mine
    weekend_days = [g for g in gaps if g.contract is SEVEN_DAYS]
    assert weekend_days == [
        Gap(SEVEN_DAYS, at(SAT, 8), at(SAT, 18), None),
        Gap(SEVEN_DAYS, at(SUN, 8), at(SUN, 18), None),
    ]


def test_the_same_hours_on_several_days_are_said_once():
    nights_only = directory(
        agencies=[make_agency("5101", department="51")],
        windows=[window("5101", "all", "mon,tue,wed,thu,fri,sat,sun", "20:00", "07:00")],
    )
    both = (COLLECTIVE, BOILER_ROOM)
    assert grouped(coverage_gaps(nights_only, "5101")) == [
        Hours(both, (MON, TUE, 2, 3, FRI), time(7, 0), 60, None),
        Hours(both, (MON, TUE, 2, 3, FRI), time(18, 0), 120, None),
        Hours(both, (SAT, SUN), time(7, 0), 13 * 60, None),
        Hours((SEVEN_DAYS,), (SAT, SUN), time(8, 0), 10 * 60, None),
    ]


def test_the_import_report_says_when_each_gap_is_and_what_it_costs_in_french():
    """The directory import warns of each gap (ivr.services.importing.directory)."""
    fax = "personne n'est appelé, la fiche est faxée à l'agence"
    metz = grouped(coverage_gaps(demo_directory(), "5701"))
    assert [said(hours) for hours in metz] == [
        f"le lun. de 00:00 à 08:00 : {fax}",
        f"les sam., dim. de 17:00 à 18:00 : {fax}",
    ]
    nothing = grouped(coverage_gaps(directory(agencies=[make_agency("0751")]), "0751"))
    assert [said(hours) for hours in nothing] == [
        f"les lun., mar., mer., jeu. de 18:00 à 08:00 le lendemain : {fax}",
        f"du ven. 18:00 au lun. 08:00 : {fax}",
        f"les sam., dim. de 08:00 à 18:00 : {fax}",
    ]
    friday = Hours((COLLECTIVE,), (FRI,), time(18, 0), 14 * 60, time(8, 0))
    assert said(friday) == (
        "le ven. de 18:00 à 08:00 le lendemain : le technicien n'est appelé qu'à 08:00, au début "
        "de l'astreinte de jour"
    )


def test_a_window_of_another_type_covers_nothing():
    rota = directory(
        agencies=[make_agency("0751")],
        windows=[
            window("0751", "collective", "mon,tue,wed,thu,fri,sat,sun", "00:00", "00:00"),
        ],
    )
    gaps = coverage_gaps(rota, "0751")
    assert not [g for g in gaps if g.contract is COLLECTIVE]
    assert [g for g in gaps if g.contract is BOILER_ROOM]


@pytest.mark.parametrize("department", ["75", "57", "67", "68", "2A", "971", "972", "973", "974"])
def test_the_reference_week_has_no_public_holiday_and_no_clock_change(department):
    days = [REFERENCE_MONDAY + timedelta(days=n) for n in range(8)]
    assert not any(is_public_holiday(day, department) for day in days)
    offsets = {local(day, time(0, 0)).utcoffset() for day in days}
    assert len(offsets) == 1


def _clock(minute: int) -> time:
    return time(minute % DAY // 60, minute % 60)


def _inside(gap: Gap, minute: int) -> bool:
    return gap.start <= minute < gap.end or gap.start <= minute + WEEK < gap.end
