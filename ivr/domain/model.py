"""The company's reference data as the rules see it: plain, immutable values.

Names follow docs/formats.md. Phone numbers are E.164; times are local French times; instants
are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum

from ivr.domain.labelled import Labelled


class Contract(Labelled):
    INDIVIDUAL_7_7 = "individual_7_7", "individuel 7/7"
    COLLECTIVE = "collective", "collectif"
    BOILER_ROOM = "boiler_room", "chaufferie"
    STANDARD = "standard", "sans intervention hors heures ouvrables"  # no out-of-hours cover


class Equipment(StrEnum):
    GAS_BOILER = "gas_boiler"
    OIL_BOILER = "oil_boiler"
    HEAT_PUMP = "heat_pump"
    BOILER_ROOM = "boiler_room"
    OTHER = "other"


class OnCallType(StrEnum):
    INDIVIDUAL = "individual"
    COLLECTIVE = "collective"
    BOILER_ROOM = "boiler_room"
    ALL = "all"


ONCALL_TYPE_OF_CONTRACT: Mapping[Contract, OnCallType] = {
    Contract.INDIVIDUAL_7_7: OnCallType.INDIVIDUAL,
    Contract.COLLECTIVE: OnCallType.COLLECTIVE,
    Contract.BOILER_ROOM: OnCallType.BOILER_ROOM,
}

HOLIDAY = "holiday"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = (*WEEKDAYS, HOLIDAY)


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    address: str
    postcode: str
    city: str
    phone: str
    equipment: Equipment
    contract: Contract
    agency: str
    delay_label: str = ""
    phone2: str | None = None
    equipment_label: str = ""
    delay_hours: float | None = None
    valid_until: date | None = None

    def effective_contract(self, on: date) -> Contract:
        """The contract in force on a local date: past `valid_until`, no cover is left."""
        if self.valid_until is not None and on > self.valid_until:
            return Contract.STANDARD
        return self.contract

    def oncall_type(self, on: date) -> OnCallType | None:
        """Whose on-call windows and lines serve it on a local date; none without cover."""
        return ONCALL_TYPE_OF_CONTRACT.get(self.effective_contract(on))


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    phone: str
    fax: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class Agency:
    cia: str
    name: str
    region: str
    address: str
    postcode: str
    city: str
    phone: str
    fax: str
    department: str
    email: str = ""
    live_from: date | None = None
    legacy_number: str | None = None

    def is_live(self, on: date) -> bool:
        return self.live_from is None or on >= self.live_from


@dataclass(frozen=True, slots=True)
class OnCallWindow:
    """A recurring on-call shift; `days` are the days on which it *starts*."""

    cia: str
    oncall_type: OnCallType
    days: frozenset[str]
    start: time
    end: time  # at or before `start`: the window ends the next day


@dataclass(frozen=True, slots=True)
class OnCallLine:
    cia: str
    oncall_type: OnCallType
    mobile: str
    priority: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class ManagerShift:
    """One row of a region's planning of on-call managers: on duty for start <= t < end."""

    region: str
    name: str
    mobile: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Directory:
    """The directory in force (§4.2): regions, agencies, their windows, lines and managers."""

    regions: Mapping[str, Region] = field(default_factory=dict)
    agencies: Mapping[str, Agency] = field(default_factory=dict)
    windows: Mapping[str, tuple[OnCallWindow, ...]] = field(default_factory=dict)
    lines: Mapping[str, tuple[OnCallLine, ...]] = field(default_factory=dict)
    shifts: Mapping[str, tuple[ManagerShift, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        regions: Iterable[Region] = (),
        agencies: Iterable[Agency] = (),
        windows: Iterable[OnCallWindow] = (),
        lines: Iterable[OnCallLine] = (),
        shifts: Iterable[ManagerShift] = (),
    ) -> Directory:
        """A directory from flat rows, indexed the way the rules read it."""
        by_cia_w: dict[str, list[OnCallWindow]] = {}
        for w in windows:
            by_cia_w.setdefault(w.cia, []).append(w)
        by_cia_l: dict[str, list[OnCallLine]] = {}
        for line in lines:
            by_cia_l.setdefault(line.cia, []).append(line)
        by_region: dict[str, list[ManagerShift]] = {}
        for s in shifts:
            by_region.setdefault(s.region, []).append(s)
        return cls(
            regions={r.code: r for r in regions},
            agencies={a.cia: a for a in agencies},
            windows={k: tuple(v) for k, v in by_cia_w.items()},
            lines={k: tuple(sorted(v, key=lambda x: x.priority)) for k, v in by_cia_l.items()},
            shifts={k: tuple(sorted(v, key=lambda x: x.start)) for k, v in by_region.items()},
        )

    def windows_for(self, cia: str, oncall_type: OnCallType) -> tuple[OnCallWindow, ...]:
        """A client's windows: those of its on-call type plus those of type `all`."""
        return tuple(
            w for w in self.windows.get(cia, ()) if w.oncall_type in (oncall_type, OnCallType.ALL)
        )

    def lines_for(self, cia: str, oncall_type: OnCallType) -> tuple[OnCallLine, ...]:
        """A client's lines: those of its type when the agency has any, else those of `all`."""
        lines = self.lines.get(cia, ())
        own = tuple(line for line in lines if line.oncall_type == oncall_type)
        return own or tuple(line for line in lines if line.oncall_type == OnCallType.ALL)

    def managers_on_duty(self, region: str, at: datetime) -> tuple[ManagerShift, ...]:
        """The planning rows covering `at`; the most recently started first on an overlap."""
        # In UTC: aware datetimes sharing a tzinfo compare by wall clock, ignoring `fold`.
        t = at.astimezone(UTC)
        on_duty = [s for s in self.shifts.get(region, ()) if s.start <= t < s.end]
        return tuple(sorted(on_duty, key=lambda s: s.start, reverse=True))

    def manager_named(self, mobile: str) -> str | None:
        """The name the planning gives a regional manager's mobile, if it is one."""
        shifts = (s for region in self.shifts.values() for s in region)
        return next((s.name for s in shifts if s.mobile == mobile), None)

    def staff_phones(self) -> list[tuple[str, str]]:
        """Every on-call line and regional manager's mobile, with whose it is."""
        lines = {(x.mobile, f"astreinte {cia}") for cia, ls in self.lines.items() for x in ls}
        managers = {
            (s.mobile, f"cadre {s.region} : {s.name}") for ss in self.shifts.values() for s in ss
        }
        return sorted(lines | managers)
