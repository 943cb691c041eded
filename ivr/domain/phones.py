"""Phone numbers: every number the program stores or dials is E.164 (`+33123456789`).

The company's files write French numbers in every usual form. The common French forms are
recognised by a fast path (a million-row client file must import in seconds); everything else
goes to `phonenumbers`, which decides what is a valid number.
"""

from __future__ import annotations

import re

import phonenumbers

_SEPARATORS = str.maketrans("", "", " .-/()\u00a0\t")
_FRENCH_NATIONAL = re.compile(r"0[1-9]\d{8}")
_FRENCH_INTERNATIONAL = re.compile(r"(?:\+|00)33[1-9]\d{8}")


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we could dial."""


def to_e164(text: str) -> str:
    """Return `text` as an E.164 number, or raise InvalidPhoneNumber."""
    compact = text.translate(_SEPARATORS)
    if _FRENCH_NATIONAL.fullmatch(compact):
        return "+33" + compact[1:]
    if _FRENCH_INTERNATIONAL.fullmatch(compact):
        return "+33" + compact[-9:]
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"not a phone number: {text!r}") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"not a valid phone number: {text!r}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def digit_pairs(e164: str) -> str:
    """A French number as it is read aloud, in pairs: `+33612345678` -> `06 12 34 56 78`."""
    if e164.startswith("+33") and len(e164) == 12:
        national = "0" + e164[3:]
        return " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return e164
