"""Phone numbers: every number the program stores or dials is E.164 (`+33123456789`).

The company's files write French numbers in every usual form, a million of them a week, so
French forms take a fast path that uses `phonenumbers`' own metadata for France; everything
else is parsed by `phonenumbers`, which decides what is a valid number.
"""

from __future__ import annotations

import re

import phonenumbers

_SEPARATORS = str.maketrans("", "", " .-/()\u00a0\t")
_FRENCH = re.compile(r"(?:0|\+33|0033)([1-9]\d{8})")
_OVERSEAS = ("GP", "MQ", "GF", "RE", "YT")  # reached from France with 0 + 9 digits too


def _french_ranges() -> re.Pattern[str]:
    """The national numbers `phonenumbers` knows as assigned in France, as one pattern."""
    fr = phonenumbers.PhoneMetadata.metadata_for_region("FR")
    if fr is None:  # pragma: no cover - the library ships France's metadata
        raise RuntimeError("phonenumbers has no metadata for France")
    kinds = (
        fr.fixed_line,
        fr.mobile,
        fr.toll_free,
        fr.premium_rate,
        fr.shared_cost,
        fr.personal_number,
        fr.voip,
        fr.pager,
        fr.uan,
        fr.voicemail,
    )
    patterns = [k.national_number_pattern for k in kinds if k and k.national_number_pattern]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_FRENCH_RANGES = _french_ranges()


class InvalidPhoneNumber(ValueError):
    """The text is not a phone number we could dial."""


def to_e164(text: str) -> str:
    """Return `text` as an E.164 number, or raise InvalidPhoneNumber.

    A French number (`01 23 45 67 89`, `+33 (0)1 23 45 67 89`, `0033123456789`) is always
    `+33...`, except a national-form number of an overseas department (`0690 ...`). A French
    number in a range not (yet) known as assigned is kept: it has the right length, and one
    such number must not make the weekly client file fail.
    """
    compact = (text.replace("(0)", "") if "(" in text else text).translate(_SEPARATORS)
    french = _FRENCH.fullmatch(compact)
    if french:
        national = french[1]
        if not _FRENCH_RANGES.fullmatch(national) and compact.startswith("0"):
            overseas = _overseas(compact)
            if overseas:
                return overseas
        return "+33" + national
    try:
        number = phonenumbers.parse(text, "FR")
    except phonenumbers.NumberParseException as error:
        raise InvalidPhoneNumber(f"not a phone number: {text!r}") from error
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumber(f"not a valid phone number: {text!r}")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def e164_or_none(text: str | None) -> str | None:
    """`text` as an E.164 number, or None where it is none: Twilio's "anonymous" caller,
    a sender's name instead of a number, nothing at all."""
    if not text:
        return None
    try:
        return to_e164(text)
    except InvalidPhoneNumber:
        return None


def _overseas(national: str) -> str | None:
    for region in _OVERSEAS:
        number = phonenumbers.parse(national, region)
        if phonenumbers.is_valid_number(number):
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None


def digit_pairs(e164: str) -> str:
    """A French number as it is read aloud: in pairs, `+33612345678` -> `06 12 34 56 78`;
    a special-rate number as the French read them, `+33800473333` -> `0 800 47 33 33`."""
    if e164.startswith("+33") and len(e164) == 12:
        if e164[3] == "8":
            rest = e164[6:]
            return f"0 {e164[3:6]} {rest[:2]} {rest[2:4]} {rest[4:]}"
        national = "0" + e164[3:]
        return " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return e164


# The mobile numbers ARCEP keeps for fiction (06 39 98 xx xx): the demo's clients and staff.
_FICTION_MOBILES = "+3363998"


def is_mobile(e164: str | None) -> bool:
    """Whether a number can receive text messages: a mobile's, never a landline's (nor a
    number that may be either, as some abroad)."""
    if not e164:
        return False
    if e164.startswith(_FICTION_MOBILES):  # unassigned, so unknown to phonenumbers
        return True
    try:
        number = phonenumbers.parse(e164, "FR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
