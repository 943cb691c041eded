"""The columns of the company's files (docs/formats.md) and how each value is checked.

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
MAX_DELAY_HOURS = 24 * 31


def quoted(value: str) -> str:
    """A value of a file as the report shows it: between « », each control character named
    where it stands (`« B[U+001A]érard »`), so that the report itself stays clean text."""
    if forbidden_in(value):
        value = "".join(f"[{forbidden_in(c)}]" if forbidden_in(c) else c for c in value)
    return f"« {value} »"


# A parser's reason says what is wrong with the value, in French, for the people who send the
# files; the report puts the column's name before it (see `Checker.reasons`).


def text(value: str) -> str:
    if len(value) > TEXT_LIMIT:
        raise ValueError(f"{len(value)} caractères, {TEXT_LIMIT} au plus")
    forbidden = forbidden_in(value)
    if forbidden:  # an old export's Ctrl-Z: it would break every answer that says the name
        raise ValueError(f"caractère de contrôle {forbidden} dans {quoted(value)} : retirez-le")
    return value


def client_id(value: str) -> str:
    if not _CLIENT_ID.fullmatch(value):
        raise ValueError(f"{quoted(value)} doit avoir de 6 à 12 chiffres, sans espace")
    return value


def postcode(value: str) -> str:
    if not _POSTCODE.fullmatch(value):
        raise ValueError(f"{quoted(value)} doit avoir 5 chiffres")
    return value


def department(value: str) -> str:
    upper = value.upper()
    if not _DEPARTMENT.fullmatch(upper):
        raise ValueError(
            f"{quoted(value)} n'est pas un code de département français (par ex. 57, 2A, 971)"
        )
    return upper


# The fast path's: `Checker.reasons` says in French why a number is refused.
phone = to_e164
PHONE_EXPECTED = "par ex. 01 23 45 67 89 ou +33 1 23 45 67 89"


def email(value: str) -> str:
    if "@" not in value or " " in value:
        raise ValueError(f"{quoted(value)} n'est pas une adresse e-mail")
    return value


def iso_date(value: str) -> date:
    if not _DATE.fullmatch(value):
        raise ValueError(f"{quoted(value)} doit être une date AAAA-MM-JJ (par ex. 2027-06-30)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"la date {quoted(value)} n'existe pas") from None


def time_of_day(value: str) -> time:
    match = _TIME.fullmatch(value)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{quoted(value)} doit être une heure HH:MM, de 00:00 à 23:59")
    return time(int(match[1]), int(match[2]))


def instant(value: str) -> datetime:
    try:
        return parse_instant(value)
    except ValueError:
        raise ValueError(
            f"{quoted(value)} doit être une date et heure ISO 8601 (par ex. 2026-12-24T18:00)"
        ) from None


def hours(value: str) -> float:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        raise ValueError(f"{quoted(value)} n'est pas un nombre d'heures") from None
    if not 0 < number <= MAX_DELAY_HOURS:
        raise ValueError(
            f"{quoted(value)} doit être un nombre d'heures positif, {MAX_DELAY_HOURS} au plus"
        )
    return number


def priority(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{quoted(value)} doit être un nombre entier, à partir de 1")
    return int(value)


def days(value: str) -> frozenset[str]:
    names = [d.strip().lower() for d in value.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAY_NAMES]
    if unknown or not names:
        wrong = f"jour(s) inconnu(s) {', '.join(quoted(d) for d in unknown)}" if unknown else ""
        raise ValueError(
            f"{quoted(value)} : {wrong or 'aucun jour'} ; jours possibles, séparés par des "
            f"virgules : {', '.join(DAY_NAMES)}"
        )
    return frozenset(names)


def choice(kind: type[StrEnum]) -> Parser:
    allowed = {member.value for member in kind}
    said = ", ".join(sorted(allowed))

    def parse(value: str) -> str:
        lower = value.lower()
        if lower not in allowed:
            raise ValueError(f"{quoted(value)} n'est pas une valeur possible ({said})")
        return lower

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
        Column("equipment", choice(Equipment)),
        Column("equipment_label", text, required=False, default=""),
        Column("contract", choice(Contract)),
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
        Column("oncall_type", choice(OnCallType)),
        Column("days", days),
        Column("start", time_of_day),
        Column("end", time_of_day),
    ),
)

LINES = Schema(
    "oncall_lines.csv",
    (
        Column("cia", text),
        Column("oncall_type", choice(OnCallType)),
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
