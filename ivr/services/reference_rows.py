"""The columns of the company's files (FORMATS.md) and how each value is checked.

Each file is a schema: named columns, required or not, each with a parser that turns the text
into a value or raises ValueError with a reason a person can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any

from ivr.domain.characters import forbidden_in
from ivr.domain.local_time import parse_instant
from ivr.domain.model import DAY_NAMES, Contract, Equipment, OnCallType
from ivr.domain.phones import to_e164

Parser = Callable[[str], Any]

_CLIENT_ID = re.compile(r"\d{6,12}")
_POSTCODE = re.compile(r"\d{5}")
_DEPARTMENT = re.compile(r"\d{2}|2[AB]|97[1-6]")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


TEXT_LIMIT = 200


def text(value: str) -> str:
    if len(value) > TEXT_LIMIT:
        raise ValueError(f"longer than {TEXT_LIMIT} characters")
    forbidden = forbidden_in(value)
    if forbidden:  # an old export's Ctrl-Z: it would break every answer that says the name
        raise ValueError(f"control character {forbidden} in {value!r}: remove it")
    return value


def client_id(value: str) -> str:
    if not _CLIENT_ID.fullmatch(value):
        raise ValueError(f"client_id {value!r} must be 6 to 12 digits")
    return value


def postcode(value: str) -> str:
    if not _POSTCODE.fullmatch(value):
        raise ValueError(f"postcode {value!r} must be 5 digits")
    return value


def department(value: str) -> str:
    value = value.upper()
    if not _DEPARTMENT.fullmatch(value):
        raise ValueError(f"department {value!r} is not a French department code (e.g. 57, 2A)")
    return value


phone = to_e164


def email(value: str) -> str:
    if "@" not in value or " " in value:
        raise ValueError(f"email {value!r} is not an address")
    return value


def iso_date(value: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValueError(f"date {value!r} must be YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"date {value!r} does not exist") from None


def time_of_day(value: str) -> time:
    match = _TIME.fullmatch(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"time {value!r} must be HH:MM between 00:00 and 23:59")
    return time(int(match[1]), int(match[2]))


def instant(value: str) -> datetime:
    try:
        return parse_instant(value)
    except ValueError:
        raise ValueError(f"date-time {value!r} must be ISO 8601 (2026-12-24T18:00)") from None


def hours(value: str) -> float:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise ValueError(f"delay_hours {value!r} is not a number") from None
    if not 0 < number <= 24 * 31:
        raise ValueError(f"delay_hours {value!r} must be a positive number of hours")
    return number


def priority(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"priority {value!r} must be a whole number from 1")
    return int(value)


def days(value: str) -> frozenset[str]:
    names = [d.strip().lower() for d in value.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAY_NAMES]
    if unknown or not names:
        raise ValueError(f"days {value!r}: use mon tue wed thu fri sat sun holiday")
    return frozenset(names)


def choice(kind: type[StrEnum], column: str) -> Parser:
    allowed = {member.value for member in kind}

    def parse(value: str) -> str:
        value = value.lower()
        if value not in allowed:
            raise ValueError(f"{column} {value!r} is not one of {', '.join(sorted(allowed))}")
        return value

    return parse


@dataclass(frozen=True)
class Column:
    name: str
    parse: Parser
    required: bool = True
    default: Any = None  # the value of an empty optional cell


@dataclass(frozen=True)
class Schema:
    """One file: its name and its columns, in the order rows are handed on."""

    file_name: str
    columns: Sequence[Column]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


CLIENTS = Schema(
    "clients.csv",
    (
        Column("client_id", client_id),
        Column("name", text),
        Column("address", text),
        Column("postcode", postcode),
        Column("city", text),
        Column("phone", phone),
        Column("phone2", phone, required=False),
        Column("equipment", choice(Equipment, "equipment")),
        Column("equipment_label", text, required=False, default=""),
        Column("contract", choice(Contract, "contract")),
        Column(
            "delay_label", text, required=False, default=""
        ),  # required for covered contracts: see below
        Column("delay_hours", hours, required=False),
        Column("agency", text),
        Column("valid_until", iso_date, required=False),
    ),
)

REGIONS = Schema(
    "regions.csv",
    (
        Column("region", text),
        Column("name", text),
        Column("phone", phone),
        Column("fax", phone),
        Column("email", email, required=False, default=""),
    ),
)

AGENCIES = Schema(
    "agencies.csv",
    (
        Column("cia", text),
        Column("name", text),
        Column("region", text),
        Column("address", text),
        Column("postcode", postcode),
        Column("city", text),
        Column("phone", phone),
        Column("fax", phone),
        Column("email", email, required=False, default=""),
        Column("department", department),
        Column("live_from", iso_date, required=False),
        Column("legacy_number", phone, required=False),
    ),
)

WINDOWS = Schema(
    "oncall_windows.csv",
    (
        Column("cia", text),
        Column("oncall_type", choice(OnCallType, "oncall_type")),
        Column("days", days),
        Column("start", time_of_day),
        Column("end", time_of_day),
    ),
)

LINES = Schema(
    "oncall_lines.csv",
    (
        Column("cia", text),
        Column("oncall_type", choice(OnCallType, "oncall_type")),
        Column("mobile", phone),
        Column("label", text, required=False, default=""),
        Column("priority", priority),
    ),
)

MANAGERS = Schema(
    "regional_managers.csv",
    (
        Column("region", text),
        Column("name", text),
        Column("mobile", phone),
        Column("start", instant),
        Column("end", instant),
    ),
)

DIRECTORY = (REGIONS, AGENCIES, WINDOWS, LINES, MANAGERS)
