"""`decide`, table by table: what the rules say for a call, checked against docs/procedure.md,
docs/formats.md and the `ivr route` section of docs/contract.md.

One directory (`ROTA`) holds every agency the tables need; each row names a client of one of
them, the call's instant (local Paris time unless an offset is given) and the expected answer
in the shape `ivr route` prints. Where a row leaves `call_at`, `calls` or `faxes` out, they are
what docs/contract.md says for that action: `call_now`/`escalate`/`legacy` at the call's own
instant, `call_now`/`call_next_morning` ring the agency's on-call line(s) and fax the agency,
`fax_only` faxes the agency, `not_covered` has both lists empty, `legacy` rings the legacy
number only.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from ivr.domain.local_time import PARIS
from ivr.domain.oncall import windows_starting_on
from ivr.domain.routing import Action, Call, Decision, decide
from tests.unit.builders import (
    NATIONAL_DUTY_NUMBER,
    directory,
    fixed,
    line,
    make_agency,
    make_client,
    make_region,
    mobile,
    paris,
    shift,
    window,
)

CN = Action.CALL_NOW
NM = Action.CALL_NEXT_MORNING
FO = Action.FAX_ONLY
ESC = Action.ESCALATE
NC = Action.NOT_COVERED
LEG = Action.LEGACY

NATIONAL = NATIONAL_DUTY_NUMBER
IDF_FAX = fixed(11)
EST_FAX = fixed(21)
# Regional on-call managers.
CLAIRE, THOMAS, SEBASTIEN, JULIE, MARC = (mobile(n) for n in (301, 302, 303, 304, 305))

WEEKDAYS = "mon,tue,wed,thu,fri"
EVERY_DAY = "mon,tue,wed,thu,fri,sat,sun,holiday"


def full_rota(cia: str) -> list:
    """The demo's Paris Nord rota: weekday nights, weekend/holiday days and nights."""
    return [
        window(cia, "all", WEEKDAYS, "18:00", "08:00"),
        window(cia, "all", "sat,sun,holiday", "08:00", "18:00"),
        window(cia, "all", "sat,sun,holiday", "18:00", "08:00"),
    ]


def alsace_test_rota(cia: str) -> list:
    """Weekday nights, weekend days 08-18, holidays 09-17 (so holiday rows can be told apart)."""
    return [
        window(cia, "all", WEEKDAYS, "18:00", "08:00"),
        window(cia, "all", "sat,sun", "08:00", "18:00"),
        window(cia, "all", "holiday", "09:00", "17:00"),
    ]


def _agency(cia: str, k: int, region: str, department: str, **kw: Any):
    return make_agency(
        cia,
        region=region,
        department=department,
        name=f"Agence {cia}",
        phone=fixed(10 * k),
        fax=fixed(10 * k + 1),
        **kw,
    )


AGENCIES = [
    _agency("0751", 11, "IDF", "75"),  # full rota
    _agency("0752", 12, "IDF", "75"),  # weekend and holiday days only
    _agency("0753", 13, "IDF", "75"),  # weekday nights + weekend days, no `holiday` row at all
    _agency("0754", 14, "IDF", "75"),  # alsace_test_rota, outside Alsace-Moselle
    _agency("5704", 15, "EST", "57"),  # alsace_test_rota, Moselle
    _agency("6704", 16, "EST", "67"),  # alsace_test_rota, Bas-Rhin
    _agency("6804", 17, "EST", "68"),  # alsace_test_rota, Haut-Rhin
    _agency("0755", 18, "IDF", "75"),  # weekend and holiday days 10:00-22:00
    _agency("5101", 19, "EST", "51"),  # nights only, every day 20:00-07:00
    _agency("0781", 20, "IDF", "78", live_from=date(2027, 1, 4), legacy_number=fixed(209)),
    _agency("0782", 21, "IDF", "93"),  # windows and lines per on-call type
    _agency("0792", 22, "IDF", "75"),  # boundary shapes: whole day, end equal to start
    _agency("0793", 23, "IDF", "75"),  # weekend days, but no on-call line
]
FAX = {a.cia: (a.fax,) for a in AGENCIES}
LEGACY = {"0781": (fixed(209),)}
# The on-call lines of agencies that only have lines of type `all`, priority order.
LINES = {
    "0751": (mobile(111), mobile(112)),
    "0752": (mobile(121),),
    "0753": (mobile(131),),
    "0754": (mobile(141),),
    "5704": (mobile(151),),
    "6704": (mobile(161),),
    "6804": (mobile(171),),
    "0755": (mobile(181),),
    "5101": (mobile(191),),
    "0781": (mobile(201),),
    "0792": (mobile(221),),
}
SD_IND = (mobile(211), mobile(212))  # 0782 individual, priority 1 then 2
SD_COLL = (mobile(213),)  # 0782 collective
SD_ALL = (mobile(214), mobile(215))  # 0782 all, priority 1 then 2

WINDOWS = [
    *full_rota("0751"),
    window("0752", "all", "sat,sun,holiday", "08:00", "18:00"),
    window("0753", "all", WEEKDAYS, "18:00", "08:00"),
    window("0753", "all", "sat,sun", "08:00", "18:00"),
    *alsace_test_rota("0754"),
    *alsace_test_rota("5704"),
    *alsace_test_rota("6704"),
    *alsace_test_rota("6804"),
    window("0755", "all", "sat,sun,holiday", "10:00", "22:00"),
    window("5101", "all", EVERY_DAY, "20:00", "07:00"),
    *full_rota("0781"),
    window("0782", "individual", "sat,sun,holiday", "08:00", "18:00"),
    window("0782", "collective", EVERY_DAY, "18:00", "08:00"),
    window("0782", "boiler_room", "sat,sun,holiday", "00:00", "00:00"),
    window("0782", "all", "wed", "12:00", "14:00"),
    window("0792", "all", "sat", "00:00", "00:00"),
    window("0792", "all", "mon", "08:00", "08:00"),
    window("0793", "all", "sat,sun,holiday", "08:00", "18:00"),
]
LINE_ROWS = [
    *(
        line(cia, "all", number, priority=i)
        for cia, numbers in LINES.items()
        for i, number in enumerate(numbers, start=1)
    ),
    # deliberately out of priority order
    line("0782", "individual", mobile(212), priority=2),
    line("0782", "individual", mobile(211), priority=1),
    line("0782", "collective", mobile(213), priority=1),
    line("0782", "all", mobile(215), priority=2),
    line("0782", "all", mobile(214), priority=1),
]
SHIFTS = [
    shift("IDF", "Claire Lefèvre", CLAIRE, "2026-01-01T00:00", "2026-12-24T18:00"),
    shift("IDF", "Thomas Nguyen", THOMAS, "2026-12-24T18:00", "2027-12-31T18:00"),
    # a reinforcement for New Year's Eve, overlapping Thomas
    shift("IDF", "Sébastien Moreau", SEBASTIEN, "2026-12-31T18:00", "2027-01-01T08:00"),
    shift("EST", "Julie Schmitt", JULIE, "2026-01-01T00:00", "2026-12-20T18:00"),
    # nobody from 2026-12-20 18:00 to 2026-12-27 18:00: a gap in the planning
    shift("EST", "Marc Weber", MARC, "2026-12-27T18:00", "2028-01-01T00:00"),
]
ROTA = directory(
    regions=[
        make_region("IDF", name="Direction régionale Île-de-France", phone=fixed(10), fax=IDF_FAX),
        make_region("EST", name="Direction régionale Grand Est", phone=fixed(20), fax=EST_FAX),
    ],
    agencies=AGENCIES,
    windows=WINDOWS,
    lines=LINE_ROWS,
    shifts=SHIFTS,
)


def coll(cia: str, **kw: Any):
    return make_client("collective", cia, **kw)


def ind(cia: str, **kw: Any):
    return make_client("individual_7_7", cia, **kw)


def boiler(cia: str, **kw: Any):
    return make_client("boiler_room", cia, **kw)


def std(cia: str, **kw: Any):
    return make_client("standard", cia, **kw)


NOW = "<the call's instant>"
_DEFAULT: Any = object()
FIELDS = "client, at, danger, postcode, action, call_at, calls, faxes"


def row(
    id: str,
    client,
    at,
    action: Action,
    call_at: Any = _DEFAULT,
    calls: Any = _DEFAULT,
    faxes: Any = _DEFAULT,
    *,
    danger: bool = False,
    postcode: str | None = None,
    marks: Any = (),
):
    return pytest.param(
        client, at, danger, postcode, action, call_at, calls, faxes, id=id, marks=marks
    )


def run(rota, client, at, danger=False, postcode=None, national=NATIONAL):
    instant = at if isinstance(at, datetime) else paris(at)
    return instant, decide(Call(instant, client, danger, postcode), rota, national)


def check(rota, client, at, danger, postcode, action, call_at, calls, faxes) -> Decision:
    """Decide, and compare with the expectation in the JSON shape of `ivr route`."""
    instant, decision = run(rota, client, at, danger, postcode)
    cia = client.agency if client is not None else None
    if call_at is _DEFAULT:
        call_at = NOW if action in (CN, ESC, LEG) else None
    if calls is _DEFAULT:
        assert action is not ESC, "an escalate row names the numbers it expects"
        calls = {CN: LINES.get(cia), NM: LINES.get(cia), LEG: LEGACY.get(cia)}.get(action, ())
        assert calls is not None, "this agency has typed lines: the row must name them"
    if faxes is _DEFAULT:
        faxes = FAX[cia] if action in (CN, NM, FO) else ()
    expected = {
        "action": action.value,
        "call_at": instant.astimezone(PARIS).isoformat() if call_at is NOW else call_at,
        "call_numbers": list(calls),
        "fax_numbers": list(faxes),
    }
    got = decision.as_json()
    reason = got.pop("reason")
    assert got == expected, reason
    assert isinstance(reason, str) and reason.strip()
    if call_at is NOW:
        assert decision.call_at is not None
        assert decision.call_at.astimezone(UTC) == instant.astimezone(UTC)
    return decision


# --------------------------------------------------------------------------------------------
# Daylight-saving changes: Sunday 29 March 2026 (02:00 CET -> 03:00 CEST) and Sunday
# 25 October 2026 (03:00 CEST -> 02:00 CET). Windows are local times; instants are compared as
# instants (docs/formats.md; docs/procedure.md "Time is French local time ... with its
# daylight-saving
# changes").

DST = [
    row("spring/0751-saturday-night-before-the-change", coll("0751"), "2026-03-29T01:59+01:00", CN),
    row("spring/0751-saturday-night-after-the-change", coll("0751"), "2026-03-29T03:00+02:00", CN),
    row("spring/0751-saturday-night-0759-cest-given-in-utc", coll("0751"), "2026-03-29T05:59Z", CN),
    row("spring/0751-sunday-0800-cest-daytime-row", coll("0751"), "2026-03-29T06:00Z", CN),
    row("spring/5101-night-starts-2000-cet", coll("5101"), "2026-03-28T19:00Z", CN),
    row("spring/5101-1959-cet-not-yet", coll("5101"), "2026-03-28T18:59Z", FO),
    row("spring/5101-10h-night-0659-cest-inside", coll("5101"), "2026-03-29T04:59Z", CN),
    row("spring/5101-10h-night-over-at-0700-cest", coll("5101"), "2026-03-29T05:00Z", FO),
    row("spring/5101-0730-cest-not-an-11h-night", coll("5101"), "2026-03-29T07:30+02:00", FO),
    row(
        "spring/0752-0130-cet-waits-for-0800-cest",
        coll("0752"),
        "2026-03-29T01:30+01:00",
        NM,
        "2026-03-29T08:00:00+02:00",
    ),
    row(
        "spring/0752-0759-cest-waits-for-0800-cest",
        coll("0752"),
        "2026-03-29T07:59+02:00",
        NM,
        "2026-03-29T08:00:00+02:00",
    ),
    row("spring/0752-0800-cest-daytime-open", coll("0752"), "2026-03-29T06:00Z", CN),
    row(
        "spring/0751-7-7-saturday-2300-called-sunday-0800-cest",
        ind("0751"),
        "2026-03-28 23:00",
        NM,
        "2026-03-29T08:00:00+02:00",
    ),
    row("autumn/0751-0230-first-occurrence", coll("0751"), "2026-10-25T02:30+02:00", CN),
    row("autumn/0751-0230-second-occurrence", coll("0751"), "2026-10-25T02:30+01:00", CN),
    row(
        "autumn/0751-0230-paris-fold0",
        coll("0751"),
        datetime(2026, 10, 25, 2, 30, tzinfo=PARIS),
        CN,
    ),
    row(
        "autumn/0751-0230-paris-fold1",
        coll("0751"),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS),
        CN,
    ),
    row(
        "autumn/0751-7-7-0230-first-occurrence-called-0800-cet",
        ind("0751"),
        "2026-10-25T02:30+02:00",
        NM,
        "2026-10-25T08:00:00+01:00",
    ),
    row(
        "autumn/0751-7-7-0230-second-occurrence-called-0800-cet",
        ind("0751"),
        datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=PARIS),
        NM,
        "2026-10-25T08:00:00+01:00",
    ),
    row(
        "autumn/0752-0230-second-occurrence-called-0800-cet",
        coll("0752"),
        "2026-10-25T02:30+01:00",
        NM,
        "2026-10-25T08:00:00+01:00",
    ),
    row(
        "autumn/0752-0730-cet-waits-for-0800-cet",
        coll("0752"),
        "2026-10-25T06:30Z",
        NM,
        "2026-10-25T08:00:00+01:00",
    ),
    row("autumn/0752-0800-cet-daytime-open", coll("0752"), "2026-10-25T07:00Z", CN),
    row("autumn/0751-15h-night-0759-cet-still-inside", coll("0751"), "2026-10-25T06:59Z", CN),
    row("autumn/5101-12h-night-0630-cet-still-inside", coll("5101"), "2026-10-25T05:30Z", CN),
    row("autumn/5101-0659-cet-inside", coll("5101"), "2026-10-25T06:59+01:00", CN),
    row("autumn/5101-0700-cet-over", coll("5101"), "2026-10-25T07:00+01:00", FO),
    row(
        "autumn/0751-7-7-saturday-2300-called-sunday-0800-cet",
        ind("0751"),
        "2026-10-24 23:00",
        NM,
        "2026-10-25T08:00:00+01:00",
    ),
    row(
        "autumn/0751-danger-0230-second-occurrence",
        coll("0751"),
        "2026-10-25T02:30+01:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "spring-2027/0752-saturday-night",
        coll("0752"),
        "2027-03-27 22:00",
        NM,
        "2027-03-28T08:00:00+02:00",
    ),
    row(
        "autumn-2027/0752-saturday-night",
        coll("0752"),
        "2027-10-30 22:00",
        NM,
        "2027-10-31T08:00:00+01:00",
    ),
]


@pytest.mark.parametrize(FIELDS, DST)
def test_daylight_saving_changes(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


@pytest.mark.parametrize(
    "days, start, end, day, hours",
    [
        pytest.param(EVERY_DAY, "18:00", "08:00", date(2026, 3, 21), 14, id="night-ordinary-14h"),
        pytest.param(EVERY_DAY, "18:00", "08:00", date(2026, 3, 28), 13, id="night-spring-13h"),
        pytest.param(EVERY_DAY, "18:00", "08:00", date(2026, 10, 24), 15, id="night-autumn-15h"),
        pytest.param(EVERY_DAY, "20:00", "07:00", date(2026, 10, 24), 12, id="5101-autumn-12h"),
        pytest.param(EVERY_DAY, "00:00", "00:00", date(2026, 3, 28), 24, id="whole-day-sat-24h"),
        pytest.param(EVERY_DAY, "00:00", "00:00", date(2026, 3, 29), 23, id="whole-day-spring-23h"),
        pytest.param(
            EVERY_DAY, "00:00", "00:00", date(2026, 10, 25), 25, id="whole-day-autumn-25h"
        ),
        pytest.param(EVERY_DAY, "08:00", "08:00", date(2026, 3, 28), 23, id="08-08-spring-23h"),
        pytest.param(EVERY_DAY, "08:00", "08:00", date(2026, 10, 24), 25, id="08-08-autumn-25h"),
        pytest.param(EVERY_DAY, "08:00", "18:00", date(2026, 3, 29), 10, id="daytime-spring-10h"),
        pytest.param(EVERY_DAY, "01:00", "04:00", date(2026, 3, 29), 2, id="across-gap-2h"),
        pytest.param(EVERY_DAY, "01:00", "04:00", date(2026, 10, 25), 4, id="across-repeat-4h"),
    ],
)
def test_window_durations_across_the_changes(days, start, end, day, hours):
    (instance,) = windows_starting_on([window("X", "all", days, start, end)], day, "75")
    assert instance.end.astimezone(UTC) - instance.start.astimezone(UTC) == timedelta(hours=hours)
    assert instance.start.astimezone(PARIS).date() == day


# A window whose start or end falls in the hour the spring change skips. docs/formats.md: "start,
# end: local times; the start is inside the window, the end is not". At 03:10 CEST on 29 March
# the wall clock has already passed 02:30: a window "02:30-08:00" has begun, and one
# "18:00-02:30" is over: the written time is the instant the clock jumps past it.
GAP_ROTA = directory(
    agencies=[make_agency("0796"), make_agency("0797")],
    windows=[
        window("0796", "all", "sun", "02:30", "08:00"),
        window("0797", "all", "sat", "18:00", "02:30"),
    ],
    lines=[line("0796", "all", mobile(961)), line("0797", "all", mobile(971))],
)


@pytest.mark.parametrize(
    "cia, at, action",
    [
        pytest.param(
            "0796", "2026-03-29T03:10+02:00", CN, id="starts-0230-in-gap-0310-cest-inside"
        ),
        pytest.param(
            "0796", "2026-03-29T03:40+02:00", CN, id="starts-0230-in-gap-0340-cest-inside"
        ),
        pytest.param("0796", "2026-03-29T01:59+01:00", FO, id="starts-0230-in-gap-0159-cet-before"),
        pytest.param("0797", "2026-03-29T01:59+01:00", CN, id="ends-0230-in-gap-0159-cet-inside"),
        pytest.param("0797", "2026-03-29T03:10+02:00", FO, id="ends-0230-in-gap-0310-cest-over"),
        pytest.param("0797", "2026-03-29T03:40+02:00", FO, id="ends-0230-in-gap-0340-cest-over"),
    ],
)
def test_window_time_in_the_spring_gap(cia, at, action):
    _, decision = run(GAP_ROTA, coll(cia), at)
    assert decision.action is action, decision.reason


# The planning of managers is a list of instants (docs/formats.md: "the manager on duty at instant t
# is the row with start <= t < end"). A handover inside the hour the autumn change repeats:
# 02:15 CET (01:15 UTC) comes after 02:30 CEST (00:30 UTC).
HANDOVER = datetime(2026, 10, 25, 2, 30, tzinfo=PARIS)  # first occurrence, 00:30 UTC
DST_PLANNING = directory(
    agencies=[make_agency("0751", region="IDF")],
    shifts=[
        shift("IDF", "Avant", mobile(401), "2026-10-24T18:00", HANDOVER),
        shift("IDF", "Après", mobile(402), HANDOVER, "2026-10-25T18:00"),
    ],
)


@pytest.mark.parametrize(
    "at, manager",
    [
        pytest.param(
            datetime(2026, 10, 25, 2, 15, tzinfo=PARIS), mobile(401), id="0215-cest-before-handover"
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 45, tzinfo=PARIS), mobile(402), id="0245-cest-after-handover"
        ),
        pytest.param(
            datetime(2026, 10, 25, 1, 15, tzinfo=UTC),
            mobile(402),
            id="0215-cet-given-in-utc-after-handover",
        ),
        pytest.param(
            paris("2026-10-25T02:15+01:00"),
            mobile(402),
            id="0215-cet-given-with-offset-after-handover",
        ),
        pytest.param(
            datetime(2026, 10, 25, 2, 15, fold=1, tzinfo=PARIS),
            mobile(402),
            id="0215-cet-given-in-paris-time-after-handover",
        ),
    ],
)
def test_manager_handover_in_the_repeated_autumn_hour(at, manager):
    _, decision = run(DST_PLANNING, coll("0751"), at, danger=True)
    assert decision.action is ESC
    assert decision.call_numbers == (manager,), decision.reason


# --------------------------------------------------------------------------------------------
# Public holidays (docs/formats.md: "On a public holiday only the rows listing `holiday` apply").

HOLIDAYS = [
    # Armistice: Wednesday 11 November 2026
    row(
        "armistice/0753-tuesday-night-window-runs-into-the-holiday",
        coll("0753"),
        "2026-11-11 03:00",
        CN,
    ),
    row(
        "armistice/0753-weekday-row-does-not-start-on-the-holiday",
        coll("0753"),
        "2026-11-11 20:00",
        FO,
    ),
    row("armistice/0753-no-holiday-row-daytime", coll("0753"), "2026-11-11 14:00", FO),
    row(
        "armistice/0753-thursday-0300-no-night-started-wednesday",
        coll("0753"),
        "2026-11-12 03:00",
        FO,
    ),
    row(
        "armistice/0753-ordinary-wednesday-night-for-contrast", coll("0753"), "2026-11-18 20:00", CN
    ),
    row("armistice/0751-holiday-daytime-row", coll("0751"), "2026-11-11 14:00", CN),
    row("armistice/0751-holiday-night-row", coll("0751"), "2026-11-11 20:00", CN),
    row("armistice/0751-holiday-night-runs-to-thursday-0759", coll("0751"), "2026-11-12 07:59", CN),
    row("armistice/0751-thursday-0800-business-hours", coll("0751"), "2026-11-12 08:00", FO),
    row(
        "armistice/0751-7-7-eve-called-on-the-holiday-morning",
        ind("0751"),
        "2026-11-10 23:00",
        NM,
        "2026-11-11T08:00:00+01:00",
    ),
    row("armistice/0751-7-7-ordinary-tuesday-night-fax-only", ind("0751"), "2026-11-17 23:00", FO),
    row(
        "armistice/0752-eve-called-on-the-holiday-morning",
        coll("0752"),
        "2026-11-10 22:00",
        NM,
        "2026-11-11T08:00:00+01:00",
    ),
    row(
        "armistice/0752-holiday-evening-thursday-is-a-working-day",
        coll("0752"),
        "2026-11-11 20:00",
        FO,
    ),
    # Ascension: Thursday 14 May 2026
    row("ascension/0752-eve", coll("0752"), "2026-05-13 21:00", NM, "2026-05-14T08:00:00+02:00"),
    row("ascension/0752-holiday-daytime", coll("0752"), "2026-05-14 10:00", CN),
    row(
        "ascension/0752-holiday-evening-friday-is-a-working-day",
        coll("0752"),
        "2026-05-14 19:00",
        FO,
    ),
    row("ascension/0753-no-holiday-row-daytime", coll("0753"), "2026-05-14 10:00", FO),
    row("ascension/0753-weekday-night-row-does-not-apply", coll("0753"), "2026-05-14 20:00", FO),
    row("ascension/0753-friday-0300-no-night-started", coll("0753"), "2026-05-15 03:00", FO),
    row(
        "ascension/0753-wednesday-night-runs-into-the-holiday", coll("0753"), "2026-05-14 07:59", CN
    ),
    row("ascension/0751-7-7-holiday-daytime-call-now", ind("0751"), "2026-05-14 10:00", CN),
    row(
        "ascension/0751-7-7-holiday-0730-waits-for-0800",
        ind("0751"),
        "2026-05-14 07:30",
        NM,
        "2026-05-14T08:00:00+02:00",
    ),
    # Whit Monday (25 May 2026) and 14 July (a Tuesday)
    row(
        "whit-monday/0752-sunday-evening",
        coll("0752"),
        "2026-05-24 20:00",
        NM,
        "2026-05-25T08:00:00+02:00",
    ),
    row(
        "bastille-day/0752-monday-evening",
        coll("0752"),
        "2026-07-13 21:00",
        NM,
        "2026-07-14T08:00:00+02:00",
    ),
    row(
        "may-day/0752-thursday-evening",
        coll("0752"),
        "2026-04-30 21:00",
        NM,
        "2026-05-01T08:00:00+02:00",
    ),
    # A holiday on a Saturday: Assumption, 15 August 2026
    row("assumption-saturday/0753-sat-row-does-not-apply", coll("0753"), "2026-08-15 10:00", FO),
    row("assumption-saturday/0753-friday-night-row-applies", coll("0753"), "2026-08-14 20:00", CN),
    row(
        "assumption-saturday/0753-7-7-friday-evening-no-on-call-day",
        ind("0753"),
        "2026-08-14 20:00",
        FO,
    ),
    row("assumption-saturday/0753-sunday-row-applies-again", coll("0753"), "2026-08-16 10:00", CN),
    row(
        "assumption-saturday/0752-friday-evening",
        coll("0752"),
        "2026-08-14 20:00",
        NM,
        "2026-08-15T08:00:00+02:00",
    ),
]


@pytest.mark.parametrize(FIELDS, HOLIDAYS)
def test_public_holidays(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# Saturday, Sunday and holiday chains: Christmas 2026 is a Friday; Easter Monday 6 April 2026.
CHAINS = [
    row("christmas/0752-christmas-eve-business-hours", coll("0752"), "2026-12-24 17:00", FO),
    row(
        "christmas/0752-christmas-eve-evening",
        coll("0752"),
        "2026-12-24 20:00",
        NM,
        "2026-12-25T08:00:00+01:00",
    ),
    row("christmas/0752-christmas-day", coll("0752"), "2026-12-25 10:00", CN),
    row(
        "christmas/0752-christmas-evening",
        coll("0752"),
        "2026-12-25 20:00",
        NM,
        "2026-12-26T08:00:00+01:00",
    ),
    row(
        "christmas/0752-saturday-0300",
        coll("0752"),
        "2026-12-26 03:00",
        NM,
        "2026-12-26T08:00:00+01:00",
    ),
    row(
        "christmas/0752-saturday-evening",
        coll("0752"),
        "2026-12-26 20:00",
        NM,
        "2026-12-27T08:00:00+01:00",
    ),
    row(
        "christmas/0752-sunday-evening-monday-is-a-working-day",
        coll("0752"),
        "2026-12-27 20:00",
        FO,
    ),
    row("christmas/0752-monday-0300", coll("0752"), "2026-12-28 03:00", FO),
    row(
        "christmas/0751-7-7-christmas-eve",
        ind("0751"),
        "2026-12-24 19:30",
        NM,
        "2026-12-25T08:00:00+01:00",
    ),
    row("christmas/0751-christmas-night", coll("0751"), "2026-12-25 23:00", CN),
    row(
        "christmas/0751-7-7-christmas-night",
        ind("0751"),
        "2026-12-25 23:00",
        NM,
        "2026-12-26T08:00:00+01:00",
    ),
    row("christmas/0751-monday-0300-sunday-night-row", coll("0751"), "2026-12-28 03:00", CN),
    row("christmas/0751-7-7-sunday-evening", ind("0751"), "2026-12-27 20:00", FO),
    row(
        "new-year/0752-new-years-eve",
        coll("0752"),
        "2026-12-31 22:00",
        NM,
        "2027-01-01T08:00:00+01:00",
    ),
    row(
        "new-year/0752-new-years-day-evening-saturday-next",
        coll("0752"),
        "2027-01-01 20:00",
        NM,
        "2027-01-02T08:00:00+01:00",
    ),
    row(
        "new-year/0751-7-7-new-years-eve",
        ind("0751"),
        "2026-12-31 23:59:59",
        NM,
        "2027-01-01T08:00:00+01:00",
    ),
    row(
        "easter/0752-saturday-evening",
        coll("0752"),
        "2026-04-04 20:00",
        NM,
        "2026-04-05T08:00:00+02:00",
    ),
    row(
        "easter/0752-sunday-evening-easter-monday-next",
        coll("0752"),
        "2026-04-05 20:00",
        NM,
        "2026-04-06T08:00:00+02:00",
    ),
    row("easter/0752-easter-monday-daytime", coll("0752"), "2026-04-06 15:00", CN),
    row(
        "easter/0752-easter-monday-evening-tuesday-is-a-working-day",
        coll("0752"),
        "2026-04-06 20:00",
        FO,
    ),
    row("easter/0753-easter-monday-evening-no-weekday-row", coll("0753"), "2026-04-06 20:00", FO),
    row("easter/0753-maundy-thursday-night", coll("0753"), "2026-04-02 23:00", CN),
]


@pytest.mark.parametrize(FIELDS, CHAINS)
def test_weekend_and_holiday_chains(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# An agency manager reading the rota before Christmas 2026 (Thursday 24 to Sunday 27).
CHRISTMAS_ROTA = [
    row("0751-christmas-eve-1759-7-7-business-hours", ind("0751"), "2026-12-24 17:59", FO),
    row("0751-christmas-eve-1800-weekday-night-row", coll("0751"), "2026-12-24 18:00", CN),
    row(
        "0751-christmas-0300-thursday-night-runs-into-the-holiday",
        coll("0751"),
        "2026-12-25 03:00",
        CN,
    ),
    row("0751-christmas-0800-holiday-daytime", coll("0751"), "2026-12-25 08:00", CN),
    row("0751-christmas-1000-7-7-called-now", ind("0751"), "2026-12-25 10:00", CN),
    row(
        "0751-christmas-0730-7-7-waits-for-0800",
        ind("0751"),
        "2026-12-25 07:30",
        NM,
        "2026-12-25T08:00:00+01:00",
    ),
    row("0751-boxing-day-saturday-0300-holiday-night-row", coll("0751"), "2026-12-26 03:00", CN),
    row("0751-new-years-day-0300-thursday-night-row", coll("0751"), "2027-01-01 03:00", CN),
    row("0751-new-years-day-1000-holiday-daytime", coll("0751"), "2027-01-01 10:00", CN),
    row("0753-christmas-day-no-holiday-row", coll("0753"), "2026-12-25 10:00", FO),
    row("0753-christmas-eve-night-row-still-runs-to-0800", coll("0753"), "2026-12-25 07:59", CN),
    row("0753-boxing-day-saturday-row-applies-in-paris", coll("0753"), "2026-12-26 10:00", CN),
    row(
        "5704-boxing-day-saturday-row-does-not-apply-in-moselle",
        coll("5704"),
        "2026-12-26 08:30",
        NM,
        "2026-12-26T09:00:00+01:00",
    ),
    row(
        "5704-christmas-danger-est-planning-has-a-hole",
        coll("5704"),
        "2026-12-25 10:00",
        ESC,
        NOW,
        (NATIONAL,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
    ),
    row(
        "5704-boxing-day-danger-still-the-hole",
        coll("5704"),
        "2026-12-27 17:59",
        ESC,
        NOW,
        (NATIONAL,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
    ),
    row(
        "0751-christmas-danger-thomas",
        std("0751"),
        "2026-12-25 03:00",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "0751-contract-ended-christmas-eve",
        ind("0751", valid_until="2026-12-24"),
        "2026-12-25 10:00",
        NC,
    ),
    row("0781-not-live-over-christmas", boiler("0781"), "2026-12-25 03:00", LEG),
    row("unknown-caller-christmas-night", None, "2026-12-25 03:00", NC),
]


@pytest.mark.parametrize(FIELDS, CHRISTMAS_ROTA)
def test_christmas_rota(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# Alsace-Moselle: Good Friday and 26 December are holidays in 57, 67 and 68, not in 75
# (docs/procedure.md, last section). Same rota (alsace_test_rota) in each department.
ALSACE_MOSELLE = ("5704", "6704", "6804")
ALSACE = [
    # id, contract, at, (action, call_at) in 75, (action, call_at) in 57/67/68
    ("good-friday-1400", "collective", "2026-04-03 14:00", (FO, None), (CN, NOW)),
    (
        "good-friday-0830",
        "collective",
        "2026-04-03 08:30",
        (FO, None),
        (NM, "2026-04-03T09:00:00+02:00"),
    ),
    (
        "good-friday-2000",
        "collective",
        "2026-04-03 20:00",
        (CN, NOW),
        (NM, "2026-04-04T08:00:00+02:00"),
    ),
    ("good-friday-1730", "collective", "2026-04-03 17:30", (FO, None), (FO, None)),
    ("maundy-thursday-night", "collective", "2026-04-02 23:00", (CN, NOW), (CN, NOW)),
    (
        "maundy-thursday-night-7-7",
        "individual_7_7",
        "2026-04-02 23:00",
        (FO, None),
        (NM, "2026-04-03T09:00:00+02:00"),
    ),
    (
        "christmas-evening-7-7",
        "individual_7_7",
        "2026-12-25 20:00",
        (NM, "2026-12-26T08:00:00+01:00"),
        (NM, "2026-12-26T09:00:00+01:00"),
    ),
    (
        "st-stephen-0830",
        "collective",
        "2026-12-26 08:30",
        (CN, NOW),
        (NM, "2026-12-26T09:00:00+01:00"),
    ),
    ("st-stephen-1730", "collective", "2026-12-26 17:30", (CN, NOW), (FO, None)),
    (
        "st-stephen-evening",
        "collective",
        "2026-12-26 20:00",
        (NM, "2026-12-27T08:00:00+01:00"),
        (NM, "2026-12-27T08:00:00+01:00"),
    ),
    (
        "easter-sunday-evening",
        "collective",
        "2026-04-05 20:00",
        (NM, "2026-04-06T09:00:00+02:00"),
        (NM, "2026-04-06T09:00:00+02:00"),
    ),
    ("easter-monday-evening", "collective", "2026-04-06 20:00", (FO, None), (FO, None)),
    ("good-friday-2027-1400", "collective", "2027-03-26 14:00", (FO, None), (CN, NOW)),
    (
        "christmas-saturday-2027-evening-7-7",
        "individual_7_7",
        "2027-12-25 20:00",
        (NM, "2027-12-26T08:00:00+01:00"),
        (NM, "2027-12-26T09:00:00+01:00"),
    ),
]


@pytest.mark.parametrize(
    "cia, contract, at, expected",
    [
        pytest.param(cia, contract, at, in_75 if cia == "0754" else in_am, id=f"{cia}/{name}")
        for name, contract, at, in_75, in_am in ALSACE
        for cia in ("0754", *ALSACE_MOSELLE)
    ],
)
def test_alsace_moselle_days(cia, contract, at, expected):
    action, call_at = expected
    check(ROTA, make_client(contract, cia), at, False, None, action, call_at, _DEFAULT, _DEFAULT)


# --------------------------------------------------------------------------------------------
# Window boundaries: start inclusive, end exclusive, across midnight, whole day, end == start.

BOUNDARIES = [
    row("0751-tuesday-175959-before-start", coll("0751"), "2026-06-16 17:59:59", FO),
    row("0751-tuesday-1800-start-is-inside", coll("0751"), "2026-06-16 18:00", CN),
    row("0751-tuesday-235959-across-midnight", coll("0751"), "2026-06-16 23:59:59", CN),
    row("0751-wednesday-0000-across-midnight", coll("0751"), "2026-06-17 00:00", CN),
    row("0751-wednesday-075959-last-second", coll("0751"), "2026-06-17 07:59:59", CN),
    row("0751-wednesday-0800-end-is-outside", coll("0751"), "2026-06-17 08:00", FO),
    row(
        "0751-saturday-0800-friday-night-hands-over-to-daytime",
        coll("0751"),
        "2026-06-20 08:00",
        CN,
    ),
    row("0792-friday-235959-before-whole-day", coll("0792"), "2026-06-19 23:59:59", FO),
    row("0792-saturday-0000-whole-day-starts", coll("0792"), "2026-06-20 00:00", CN),
    row("0792-saturday-noon", coll("0792"), "2026-06-20 12:00", CN),
    row("0792-saturday-235959-whole-day", coll("0792"), "2026-06-20 23:59:59", CN),
    row("0792-sunday-0000-whole-day-over", coll("0792"), "2026-06-21 00:00", FO),
    row("0792-monday-0759-before-end-equal-to-start", coll("0792"), "2026-06-22 07:59", FO),
    row("0792-monday-0800-end-equal-to-start-opens", coll("0792"), "2026-06-22 08:00", CN),
    row("0792-tuesday-075959-24h-later-still-inside", coll("0792"), "2026-06-23 07:59:59", CN),
    row("0792-tuesday-0800-over", coll("0792"), "2026-06-23 08:00", FO),
    row("0792-whole-day-on-the-autumn-saturday", coll("0792"), "2026-10-24 23:59", CN),
]


@pytest.mark.parametrize(FIELDS, BOUNDARIES)
def test_window_boundaries(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


@pytest.mark.parametrize(
    "start, action, call_at",
    [
        pytest.param("04:59", FO, None, id="0459-too-early-not-an-on-call-day"),
        pytest.param("05:00", NM, "2026-06-21T05:00:00+02:00", id="0500-on-call-day"),
        pytest.param("09:30", NM, "2026-06-21T09:30:00+02:00", id="0930-on-call-day"),
        pytest.param("12:00", NM, "2026-06-21T12:00:00+02:00", id="1200-on-call-day"),
        pytest.param("12:01", FO, None, id="1201-too-late-not-an-on-call-day"),
    ],
)
def test_on_call_day_is_a_window_starting_between_0500_and_1200(start, action, call_at):
    """docs/procedure.md: an on-call day has "a window that starts that day between 05:00 and
    12:00"."""
    rota = directory(
        agencies=[make_agency("0794", fax=fixed(941))],
        windows=[window("0794", "all", "sun", start, "23:00")],
        lines=[line("0794", "all", mobile(941))],
    )
    _, decision = run(rota, coll("0794"), "2026-06-20 20:00")  # a Saturday evening
    assert decision.action is action, decision.reason
    assert decision.as_json()["call_at"] == call_at
    if action is NM:
        assert decision.call_numbers == (mobile(941),)
        assert decision.fax_numbers == (fixed(941),)


# --------------------------------------------------------------------------------------------
# An agency on call at night only (5101: every day and holiday, 20:00-07:00).

NIGHTS_ONLY = [
    row("tuesday-2200", coll("5101"), "2026-06-16 22:00", CN),
    row("tuesday-1900-before-the-night", coll("5101"), "2026-06-16 19:00", FO),
    row("friday-1900-saturday-has-no-daytime", coll("5101"), "2026-06-19 19:00", FO),
    row("saturday-1400", coll("5101"), "2026-06-20 14:00", FO),
    row("sunday-0659", coll("5101"), "2026-06-21 06:59", CN),
    row("sunday-0700", coll("5101"), "2026-06-21 07:00", FO),
    row("christmas-night-holiday-row", coll("5101"), "2026-12-25 22:00", CN),
    row("boiler-room-uses-all-rows", boiler("5101"), "2026-06-16 22:00", CN),
    row("7-7-inside-the-night-not-called", ind("5101"), "2026-06-16 22:00", FO),
    row("7-7-saturday-night-not-called", ind("5101"), "2026-06-20 23:00", FO),
    row("7-7-saturday-afternoon", ind("5101"), "2026-06-20 14:00", FO),
]


@pytest.mark.parametrize(FIELDS, NIGHTS_ONLY)
def test_agency_with_night_windows_only(
    client, at, danger, postcode, action, call_at, calls, faxes
):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# --------------------------------------------------------------------------------------------
# Roll-out (docs/procedure.md "Roll-out", §1): 0781 goes live on Monday 4 January 2027.

ROLLOUT = [
    row("before-live-collective", coll("0781"), "2026-12-25 10:00", LEG),
    row("before-live-danger-is-still-legacy", coll("0781"), "2026-12-25 10:00", LEG, danger=True),
    row("before-live-standard-contract", std("0781"), "2026-12-25 10:00", LEG),
    row("before-live-7-7-evening", ind("0781"), "2026-12-25 20:00", LEG),
    row("before-live-last-second", coll("0781"), "2027-01-03 23:59:59", LEG),
    row("before-live-last-second-in-utc", coll("0781"), "2027-01-03T22:59:59Z", LEG),
    row("live-day-midnight-sunday-night-window", coll("0781"), "2027-01-04 00:00", CN),
    row("live-day-0030-given-in-utc", coll("0781"), "2027-01-03T23:30Z", CN),
    row("live-day-business-hours", coll("0781"), "2027-01-04 10:00", FO),
    row("live-day-standard-contract", std("0781"), "2027-01-04 10:00", NC),
    row(
        "live-day-danger-escalates",
        coll("0781"),
        "2027-01-04 10:00",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0781"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "unknown-caller-danger-is-not-legacy",
        None,
        "2026-12-25 10:00",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0781"][0], IDF_FAX),  # the postcode's agency, not live yet: escalated all the same
        danger=True,
        postcode="78000",
    ),
    row("unknown-caller-no-danger", None, "2026-12-25 10:00", NC),
]


@pytest.mark.parametrize(FIELDS, ROLLOUT)
def test_agency_not_live_yet(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


def test_a_danger_the_legacy_arrangement_did_not_take_goes_to_the_manager_on_duty():
    """Not live yet: a danger is put through to the agency's legacy number first; nobody
    there, it is escalated as for a live agency, never left as a message nobody reads."""
    at = paris("2026-12-25 10:00")
    unreached = Call(at, coll("0781"), danger=True, legacy_unreached=True)
    decision = decide(unreached, ROTA, NATIONAL)
    assert decision.action is ESC and decision.call_numbers == (THOMAS,)
    assert decision.fax_numbers == (FAX["0781"][0], IDF_FAX)
    no_danger = Call(at, coll("0781"), danger=False, legacy_unreached=True)
    assert decide(no_danger, ROTA, NATIONAL).action is LEG  # a message: its agency's sheet


# --------------------------------------------------------------------------------------------
# 7/7 clients after 18:00 (docs/procedure.md special cases; source §5.2 "tout appel reçu après
# 18H00"): handled as outside the window, up to the next morning. June 2026: Tuesday 16,
# Friday 19, Saturday 20, Sunday 21, Monday 22.

SEVEN_SEVEN = [
    row(
        "friday-1930-inside-window-called-saturday-0800",
        ind("0751"),
        "2026-06-19 19:30",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("collective-friday-1930-called-now", coll("0751"), "2026-06-19 19:30", CN),
    row("tuesday-2300-fax-only", ind("0751"), "2026-06-16 23:00", FO),
    row("collective-tuesday-2300-called-now", coll("0751"), "2026-06-16 23:00", CN),
    row("tuesday-1801-fax-only", ind("0751"), "2026-06-16 18:01", FO),
    row("wednesday-0300-still-the-night", ind("0751"), "2026-06-17 03:00", FO),
    row("wednesday-0759-still-the-night", ind("0751"), "2026-06-17 07:59", FO),
    row("tuesday-1000-business-hours", ind("0751"), "2026-06-16 10:00", FO),
    row(
        "saturday-0700-called-same-day-0800",
        ind("0751"),
        "2026-06-20 07:00",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("collective-saturday-0700-called-now", coll("0751"), "2026-06-20 07:00", CN),
    row(
        "saturday-0200-called-0800",
        ind("0751"),
        "2026-06-20 02:00",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("saturday-0800-daytime-called-now", ind("0751"), "2026-06-20 08:00", CN),
    row("saturday-1759-called-now", ind("0751"), "2026-06-20 17:59", CN),
    row(
        "saturday-1801-called-sunday-0800",
        ind("0751"),
        "2026-06-20 18:01",
        NM,
        "2026-06-21T08:00:00+02:00",
    ),
    row("sunday-1900-monday-is-a-working-day", ind("0751"), "2026-06-21 19:00", FO),
    row("monday-0759-fax-only", ind("0751"), "2026-06-22 07:59", FO),
    # 0755: weekend and holiday windows 10:00-22:00
    row(
        "0755-saturday-0900-waits-for-the-1000-window",
        ind("0755"),
        "2026-06-20 09:00",
        NM,
        "2026-06-20T10:00:00+02:00",
    ),
    row("0755-saturday-1100-called-now", ind("0755"), "2026-06-20 11:00", CN),
    row(
        "0755-saturday-2000-open-window-called-sunday-1000",
        ind("0755"),
        "2026-06-20 20:00",
        NM,
        "2026-06-21T10:00:00+02:00",
    ),
    row("0755-collective-saturday-2000-called-now", coll("0755"), "2026-06-20 20:00", CN),
    # 0782: individual windows on weekends 08:00-18:00, plus an `all` window Wednesday 12-14
    row("0782-wednesday-midday-all-window", ind("0782"), "2026-06-17 13:00", CN, NOW, SD_IND),
    row(
        "0782-friday-1930-called-saturday-0800",
        ind("0782"),
        "2026-06-19 19:30",
        NM,
        "2026-06-20T08:00:00+02:00",
        SD_IND,
    ),
    row("0782-saturday-1000", ind("0782"), "2026-06-20 10:00", CN, NOW, SD_IND),
]


@pytest.mark.parametrize(FIELDS, SEVEN_SEVEN)
def test_individual_7_7_after_1800(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# Outside the window, other clients: next morning only before an on-call day (0752: only
# weekend and holiday days 08:00-18:00).
NEXT_MORNING = [
    row(
        "friday-2200-called-saturday-0800",
        coll("0752"),
        "2026-06-19 22:00",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("friday-1830-evening", coll("0752"), "2026-06-19 18:30", NM, "2026-06-20T08:00:00+02:00"),
    row("friday-1700-business-hours", coll("0752"), "2026-06-19 17:00", FO),
    row(
        "saturday-0600-called-that-morning",
        coll("0752"),
        "2026-06-20 06:00",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("saturday-1200-inside", coll("0752"), "2026-06-20 12:00", CN),
    row(
        "saturday-1900-called-sunday-0800",
        coll("0752"),
        "2026-06-20 19:00",
        NM,
        "2026-06-21T08:00:00+02:00",
    ),
    row("sunday-2000-monday-is-a-working-day", coll("0752"), "2026-06-21 20:00", FO),
    row("monday-0300", coll("0752"), "2026-06-22 03:00", FO),
    row("wednesday-1400", coll("0752"), "2026-06-17 14:00", FO),
    row("wednesday-2200", coll("0752"), "2026-06-17 22:00", FO),
    row(
        "boiler-room-friday-2200",
        boiler("0752"),
        "2026-06-19 22:00",
        NM,
        "2026-06-20T08:00:00+02:00",
    ),
    row("7-7-friday-2200", ind("0752"), "2026-06-19 22:00", NM, "2026-06-20T08:00:00+02:00"),
    row(
        "0755-collective-saturday-0900-waits-for-1000",
        coll("0755"),
        "2026-06-20 09:00",
        NM,
        "2026-06-20T10:00:00+02:00",
    ),
    row(
        "0755-collective-friday-2300-called-saturday-1000",
        coll("0755"),
        "2026-06-19 23:00",
        NM,
        "2026-06-20T10:00:00+02:00",
    ),
]


@pytest.mark.parametrize(FIELDS, NEXT_MORNING)
def test_next_morning_outside_windows(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# --------------------------------------------------------------------------------------------
# Danger (docs/procedure.md "Danger"): the regional manager on duty, faxes to the agency and the
# regional direction; covered or not, inside or outside windows.

DANGER = [
    row(
        "covered-inside-window",
        coll("0751"),
        "2026-06-20 10:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "covered-outside-window",
        coll("0752"),
        "2026-06-17 14:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0752"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "7-7-after-1800",
        ind("0751"),
        "2026-06-16 23:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "standard-contract",
        std("0751"),
        "2026-06-17 14:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "expired-contract",
        coll("0751", valid_until="2026-01-31"),
        "2026-06-17 14:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "boiler-room-typed-agency",
        boiler("0782"),
        "2026-06-20 03:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0782"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "christmas-eve-1759-claire",
        coll("0751"),
        "2026-12-24 17:59:59",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "christmas-eve-1800-thomas",
        coll("0751"),
        "2026-12-24 18:00",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "new-years-eve-overlap-most-recent-first",
        coll("0751"),
        "2026-12-31 23:00",
        ESC,
        NOW,
        (SEBASTIEN, THOMAS),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "new-years-day-0800-overlap-over",
        coll("0751"),
        "2027-01-01 08:00",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
    row(
        "est-before-the-gap",
        coll("5704"),
        "2026-12-20 17:59",
        ESC,
        NOW,
        (JULIE,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
    ),
    row(
        "est-gap-in-planning-national-duty",
        coll("5704"),
        "2026-12-22 03:00",
        ESC,
        NOW,
        (NATIONAL,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
    ),
    row(
        "est-after-the-gap",
        coll("5704"),
        "2026-12-27 18:00",
        ESC,
        NOW,
        (MARC,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
    ),
    row(
        "unidentified-caller-agency-and-region-from-postcode",
        None,
        "2026-06-17 14:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
        postcode="75018",
    ),
    row(
        "unidentified-caller-est-in-the-gap",
        None,
        "2026-12-22 03:00",
        ESC,
        NOW,
        (NATIONAL,),
        (FAX["5704"][0], EST_FAX),
        danger=True,
        postcode="57000",
    ),
    row(
        "unidentified-caller-no-region",
        None,
        "2026-06-17 14:00",
        ESC,
        NOW,
        (NATIONAL,),
        (),
        danger=True,
    ),
    row(
        "unidentified-caller-postcode-without-agency",
        None,
        "2026-06-17 14:00",
        ESC,
        NOW,
        (NATIONAL,),
        (),
        danger=True,
        postcode="13001",
    ),
    row(
        "known-client-agency-region-over-keyed-postcode",
        coll("0751"),
        "2026-06-17 14:00",
        ESC,
        NOW,
        (CLAIRE,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
        postcode="57000",
    ),
    row(
        "given-in-utc",
        coll("0751"),
        "2026-12-24T17:00Z",
        ESC,
        NOW,
        (THOMAS,),
        (FAX["0751"][0], IDF_FAX),
        danger=True,
    ),
]


@pytest.mark.parametrize(FIELDS, DANGER)
def test_danger(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


def test_danger_in_a_planning_gap_without_a_national_number_still_escalates():
    _, decision = run(ROTA, coll("5704"), "2026-12-22 03:00", danger=True, national=None)
    assert decision.action is ESC
    assert decision.call_numbers == ()
    assert decision.fax_numbers == (FAX["5704"][0], EST_FAX)


# --------------------------------------------------------------------------------------------
# Who is covered (§2, §3, §5.1.1; docs/formats.md `valid_until`: "last day of cover; after it the
# client is treated as `standard`").

COVER = [
    row(
        "valid-until-last-day-covered",
        coll("0751", valid_until="2026-12-31"),
        "2026-12-31 23:59:59",
        CN,
    ),
    row(
        "valid-until-day-after-not-covered",
        coll("0751", valid_until="2026-12-31"),
        "2027-01-01 00:00",
        NC,
    ),
    row(
        "valid-until-day-after-given-in-utc",
        coll("0751", valid_until="2026-12-31"),
        "2026-12-31T23:30Z",
        NC,
    ),
    row(
        "valid-until-last-day-7-7-evening-called-next-morning",
        ind("0751", valid_until="2026-12-24"),
        "2026-12-24 20:00",
        NM,
        "2026-12-25T08:00:00+01:00",
    ),
    row(
        "valid-until-in-the-future", coll("0751", valid_until="2027-06-30"), "2026-12-31 23:59", CN
    ),
    row("expired-7-7", ind("0751", valid_until="2026-06-15"), "2026-06-20 10:00", NC),
    row("standard-contract-inside-window", std("0751"), "2026-06-16 23:00", NC),
    row("standard-contract-business-hours", std("0751"), "2026-06-16 10:00", NC),
    row("standard-contract-holiday", std("0752"), "2026-12-25 10:00", NC),
    row("unknown-client", None, "2026-06-16 23:00", NC),
    row("client-of-an-agency-missing-from-the-directory", coll("9999"), "2026-06-16 23:00", NC),
]


@pytest.mark.parametrize(FIELDS, COVER)
def test_who_is_covered(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# --------------------------------------------------------------------------------------------
# On-call types (docs/formats.md): a client's windows are those of its type plus `all`; its
# lines are
# those of its type when the agency has any, else `all`; priority 1 first.
# 0782: individual sat,sun,holiday 08-18; collective every day 18-08; boiler_room
# sat,sun,holiday 00-00; all wed 12-14. Lines: individual, collective, all (no boiler_room).

TYPES = [
    row("collective-tuesday-night-own-line", coll("0782"), "2026-06-16 22:00", CN, NOW, SD_COLL),
    row("7-7-tuesday-night-resting", ind("0782"), "2026-06-16 22:00", FO),
    row("boiler-tuesday-night-no-boiler-window", boiler("0782"), "2026-06-16 22:00", FO),
    row(
        "boiler-saturday-0300-whole-day-all-lines",
        boiler("0782"),
        "2026-06-20 03:00",
        CN,
        NOW,
        SD_ALL,
    ),
    row("boiler-wednesday-midday-all-window", boiler("0782"), "2026-06-17 13:00", CN, NOW, SD_ALL),
    row(
        "collective-wednesday-midday-all-window-own-line",
        coll("0782"),
        "2026-06-17 13:00",
        CN,
        NOW,
        SD_COLL,
    ),
    row(
        "7-7-wednesday-midday-all-window-own-lines",
        ind("0782"),
        "2026-06-17 13:00",
        CN,
        NOW,
        SD_IND,
    ),
    row("7-7-wednesday-1400-all-window-over", ind("0782"), "2026-06-17 14:00", FO),
    row(
        "collective-saturday-1000-individual-window-not-theirs",
        coll("0782"),
        "2026-06-20 10:00",
        FO,
    ),
    row("boiler-saturday-1000", boiler("0782"), "2026-06-20 10:00", CN, NOW, SD_ALL),
    row("7-7-saturday-1000-priority-order", ind("0782"), "2026-06-20 10:00", CN, NOW, SD_IND),
    row(
        "7-7-friday-2200-next-morning-own-lines",
        ind("0782"),
        "2026-06-19 22:00",
        NM,
        "2026-06-20T08:00:00+02:00",
        SD_IND,
    ),
    row(
        "collective-christmas-night-holiday-row", coll("0782"), "2026-12-25 22:00", CN, NOW, SD_COLL
    ),
    row(
        "0751-all-lines-priority-order",
        coll("0751"),
        "2026-06-16 22:00",
        CN,
        NOW,
        (mobile(111), mobile(112)),
    ),
]


@pytest.mark.parametrize(FIELDS, TYPES)
def test_on_call_types(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# An agency with windows but no on-call line (0793).
NO_LINES = [
    row("inside-window-nobody-to-call-fax-only", coll("0793"), "2026-06-20 10:00", FO),
    row("next-morning-nobody-to-call-fax-only", coll("0793"), "2026-06-19 22:00", FO),
]


@pytest.mark.parametrize(FIELDS, NO_LINES)
def test_agency_without_on_call_line(client, at, danger, postcode, action, call_at, calls, faxes):
    check(ROTA, client, at, danger, postcode, action, call_at, calls, faxes)


# --------------------------------------------------------------------------------------------
# Decision.as_json(): exactly what `ivr route` prints (docs/contract.md).


def test_as_json_next_morning_exact_shape():
    _, decision = run(ROTA, coll("0752"), "2026-12-25 20:00")
    payload = decision.as_json()
    assert list(payload) == ["action", "call_at", "call_numbers", "fax_numbers", "reason"]
    assert payload["action"] == "call_next_morning"
    assert payload["call_at"] == "2026-12-26T08:00:00+01:00"
    assert payload["call_numbers"] == [mobile(121)]
    assert payload["fax_numbers"] == [FAX["0752"][0]]
    assert isinstance(payload["reason"], str) and payload["reason"]
    assert "26 décembre" in payload["reason"]
    assert json.loads(json.dumps(payload, ensure_ascii=False)) == payload


@pytest.mark.parametrize(
    "client, at, danger, region, action, call_at",
    [
        pytest.param(
            coll("0751"),
            "2026-07-01T20:00:00Z",
            False,
            None,
            "call_now",
            "2026-07-01T22:00:00+02:00",
            id="call-now-utc-shown-in-summer-time",
        ),
        pytest.param(
            coll("0751"),
            "2026-12-01T20:00:00Z",
            False,
            None,
            "call_now",
            "2026-12-01T21:00:00+01:00",
            id="call-now-utc-shown-in-winter-time",
        ),
        pytest.param(
            coll("0752"),
            "2026-05-13T19:00:00Z",
            False,
            None,
            "call_next_morning",
            "2026-05-14T08:00:00+02:00",
            id="next-morning-summer-offset",
        ),
        pytest.param(
            coll("0751"), "2026-06-17 10:00", False, None, "fax_only", None, id="fax-only-null"
        ),
        pytest.param(
            std("0751"), "2026-06-17 10:00", False, None, "not_covered", None, id="not-covered-null"
        ),
        pytest.param(
            coll("0781"),
            "2026-12-25T09:00:00Z",
            False,
            None,
            "legacy",
            "2026-12-25T10:00:00+01:00",
            id="legacy-call-instant",
        ),
        pytest.param(
            None,
            "2026-12-25T09:00:00Z",
            True,
            "IDF",
            "escalate",
            "2026-12-25T10:00:00+01:00",
            id="escalate-call-instant",
        ),
    ],
)
def test_as_json_call_at_in_paris_offset(client, at, danger, region, action, call_at):
    _, decision = run(ROTA, client, at, danger, region)
    payload = decision.as_json()
    assert set(payload) == {"action", "call_at", "call_numbers", "fax_numbers", "reason"}
    assert payload["action"] == action
    assert payload["call_at"] == call_at
    assert all(isinstance(payload[k], list) for k in ("call_numbers", "fax_numbers"))
    assert all(
        n.startswith("+") and n[1:].isdigit()
        for k in ("call_numbers", "fax_numbers")
        for n in payload[k]
    )
    json.dumps(payload)


def test_as_json_call_at_in_the_spring_gap_is_printed_in_the_offset_paris_had():
    _, decision = run(ROTA, coll("0751"), datetime(2026, 3, 29, 2, 30, tzinfo=PARIS))
    assert decision.action is CN
    assert decision.as_json()["call_at"] == "2026-03-29T03:30:00+02:00"


@pytest.mark.parametrize(
    "client, at, danger",
    [
        pytest.param(std("0751"), "2026-06-16 23:00", False, id="standard"),
        pytest.param(None, "2026-06-16 23:00", False, id="unknown"),
        pytest.param(
            coll("0751", valid_until="2026-01-01"), "2026-06-16 23:00", False, id="expired"
        ),
    ],
)
def test_not_covered_is_empty(client, at, danger):
    _, decision = run(ROTA, client, at, danger)
    assert decision.as_json() | {"reason": ""} == {
        "action": "not_covered",
        "call_at": None,
        "call_numbers": [],
        "fax_numbers": [],
        "reason": "",
    }
