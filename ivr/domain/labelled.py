"""Codes stored and compared as text, that French readers see by their label."""

from __future__ import annotations

from enum import StrEnum
from typing import Self


class Labelled(StrEnum):
    """An enumeration whose members are written `CODE = "code", "libellé"`: stored by their
    code, shown by their label (on the sheet, to the technician, in the back office)."""

    label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member
