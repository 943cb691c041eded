"""Settings administrators change at run time, kept in the database with who and when."""

from __future__ import annotations

import re
from collections.abc import Callable

from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, AppSettingRow
from ivr.clock import Clock
from ivr.domain.phones import InvalidPhoneNumber, digit_pairs, to_e164

RECORD_CALLS = "record_calls"  # "on": callers are told, and may refuse with a key
GAS_NUMBER = re.compile(r"gas_emergency_number:(?P<cia>\w+)")  # per agency


def _on_off(value: str) -> str:
    if value not in ("on", "off"):
        raise ValueError("record_calls is 'on' or 'off'")
    return value


def _spoken_number(value: str) -> str:
    """A number as it is read to a caller: `0 800 47 33 33`."""
    try:
        e164 = to_e164(value)
    except InvalidPhoneNumber:
        raise ValueError(f"{value!r} is not a phone number") from None
    return digit_pairs(e164)


def validator(key: str) -> Callable[[str], str]:
    """How the value of `key` is checked (ValueError with a reason for a bad key or value)."""
    if key == RECORD_CALLS:
        return _on_off
    if GAS_NUMBER.fullmatch(key):
        return _spoken_number
    raise ValueError(f"unknown setting {key!r}: record_calls, gas_emergency_number:CIA")


def set_setting(db: Database, clock: Clock, key: str, value: str, by: str) -> str:
    """Store a checked value; returns it as stored."""
    value = validator(key)(value.strip())
    with db.session() as session:
        agency = GAS_NUMBER.fullmatch(key)
        if agency and session.get(AgencyRow, agency["cia"]) is None:  # a typo, never read
            raise ValueError(f"no agency {agency['cia']!r} in the directory in force")
        row = session.get(AppSettingRow, key)
        if row is None:
            row = AppSettingRow(key=key)
            session.add(row)
        row.value, row.updated_at, row.updated_by = value, clock.now(), by
    return value
