"""Small builders for the domain values, so that a test says only what matters to it.

Numbers are in the ranges ARCEP keeps for fiction: fixed lines and faxes `+33199000xxx`,
mobiles `+33639980xxx`. Times are written the way the rota is: local French time.

    rota = directory(
        agencies=[make_agency("0751")],
        windows=[window("0751", "all", "mon,tue,wed,thu,fri", "18:00", "08:00")],
        lines=[line("0751", "all", "+33639980111")],
    )
    decide(Call(paris("2026-12-24 20:00"), make_client(agency="0751")), rota)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

from ivr.domain.local_time import PARIS
from ivr.domain.model import (
    Agency,
    Client,
    Contract,
    Directory,
    Equipment,
    ManagerShift,
    OnCallLine,
    OnCallType,
    OnCallWindow,
    Region,
)

NATIONAL_DUTY_NUMBER = "+33199000999"


def fixed(n: int) -> str:
    """A fixed-line (or fax) number of the fiction range: `fixed(11)` is `+33199000011`."""
    assert 0 <= n <= 999
    return f"+33199000{n:03d}"


def mobile(n: int) -> str:
    """A mobile number of the fiction range: `mobile(111)` is `+33639980111`."""
    assert 0 <= n <= 999
    return f"+33639980{n:03d}"


def paris(text: str) -> datetime:
    """An instant: `2026-12-24 20:00` (read as Europe/Paris) or ISO 8601 with an offset."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def hhmm(text: str) -> time:
    return time.fromisoformat(text)


def make_region(code: str = "IDF", **overrides: Any) -> Region:
    values: dict[str, Any] = {
        "code": code,
        "name": f"Direction régionale {code}",
        "phone": fixed(10),
        "fax": fixed(11),
    }
    return Region(**(values | overrides))


def make_agency(
    cia: str = "0751", region: str = "IDF", department: str = "75", **overrides: Any
) -> Agency:
    """An agency, live unless `live_from` says otherwise."""
    values: dict[str, Any] = {
        "cia": cia,
        "name": f"Agence {cia}",
        "region": region,
        "address": "1 rue de la Paix",
        "postcode": {"2A": "20000", "2B": "20200"}.get(department, f"{department}000"[:5]),
        "city": "Ville",
        "phone": fixed(100),
        "fax": fixed(101),
        "department": department,
    }
    if isinstance(overrides.get("live_from"), str):
        overrides["live_from"] = date.fromisoformat(overrides["live_from"])
    return Agency(**(values | overrides))


def make_client(contract: str = "collective", agency: str = "0751", **overrides: Any) -> Client:
    """A client of `agency` under `contract` (`individual_7_7`, `collective`, ...)."""
    kind = Contract(contract)
    values: dict[str, Any] = {
        "client_id": "123456",
        "name": "Mme Martin",
        "address": "2 rue des Lilas",
        "postcode": "75018",
        "city": "Paris",
        "phone": fixed(500),
        "equipment": (
            Equipment.BOILER_ROOM if kind is Contract.BOILER_ROOM else Equipment.GAS_BOILER
        ),
        "contract": kind,
        "agency": agency,
        "delay_label": "" if kind is Contract.STANDARD else "intervention sous 4 heures",
    }
    if isinstance(overrides.get("valid_until"), str):
        overrides["valid_until"] = date.fromisoformat(overrides["valid_until"])
    return Client(**(values | overrides))


def window(cia: str, oncall_type: str, days: str, start: str, end: str) -> OnCallWindow:
    """One row of `oncall_windows.csv`: `window("0751", "all", "sat,sun", "08:00", "18:00")`."""
    return OnCallWindow(
        cia=cia,
        oncall_type=OnCallType(oncall_type),
        days=frozenset(d.strip() for d in days.split(",") if d.strip()),
        start=hhmm(start),
        end=hhmm(end),
    )


def line(cia: str, oncall_type: str, number: str, priority: int = 1, label: str = "") -> OnCallLine:
    """One row of `oncall_lines.csv`."""
    return OnCallLine(
        cia=cia, oncall_type=OnCallType(oncall_type), mobile=number, priority=priority, label=label
    )


def shift(
    region: str, name: str, number: str, start: str | datetime, end: str | datetime
) -> ManagerShift:
    """One row of `regional_managers.csv`; date-times without offset are Europe/Paris."""
    return ManagerShift(
        region=region,
        name=name,
        mobile=number,
        start=paris(start) if isinstance(start, str) else start,
        end=paris(end) if isinstance(end, str) else end,
    )


def directory(
    agencies: Iterable[Agency] = (),
    windows: Iterable[OnCallWindow] = (),
    lines: Iterable[OnCallLine] = (),
    shifts: Iterable[ManagerShift] = (),
    regions: Iterable[Region] | None = None,
) -> Directory:
    """A directory; without `regions`, one default region per region code the agencies name."""
    agencies = tuple(agencies)
    if regions is None:
        regions = [make_region(code) for code in dict.fromkeys(a.region for a in agencies)]
    return Directory.build(
        regions=regions, agencies=agencies, windows=windows, lines=lines, shifts=shifts
    )
