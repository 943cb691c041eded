"""Every key the caller may press, by name (VOICE.md: the option first, the key last)."""

from __future__ import annotations

from ivr.domain.triage import Danger, Fault

DANGER = "9"  # at every menu: « Si vous sentez une odeur de gaz, tapez 9. »
OPERATOR = "0"  # at every menu, when an operator number is configured
YES = "1"
NO = "2"
REPEAT = "2"  # in the whisper: hear it again
TAKE_CALL = "1"  # in the whisper
REFUSE_RECORDING = "3"  # in the greeting, when calls are recorded
FINISH = "#"  # ends a number
STAFF = "*"  # at the first question: the staff's side (§6), from any phone

FAULTS = {
    "1": Fault.NO_HEATING,
    "2": Fault.NO_HOT_WATER,
    "3": Fault.WATER_LEAK,
    "4": Fault.SAFETY_LOCK,
    "5": Fault.OTHER,
}

DANGERS = {
    "1": Danger.GAS,
    "2": Danger.FIRE,
    "3": Danger.CARBON_MONOXIDE,
    "4": Danger.OTHER,
}
