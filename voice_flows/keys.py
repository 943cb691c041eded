"""Every key, by name: one map for the callers' menus, one for what the staff do, so that a
technician or a manager presses the same key for the same act wherever the call comes from:
the announcement before being put through, the dispatcher's call, their own call
(docs/call-flow.md, "The staff's keys")."""

from __future__ import annotations

from ivr.domain.outcomes import RequestOutcome
from ivr.domain.triage import Danger, Fault

# --- The caller's menus (the option first, the key last) ------------------------------------

DANGER = "9"  # at every menu: « Si vous sentez une odeur de gaz, tapez 9. »
OPERATOR = "0"  # at every menu, when an operator number is configured
YES = "1"
NO = "2"
REFUSE_RECORDING = "3"  # in the greeting, when calls are recorded
FINISH = "#"  # ends a number
STAFF = "*"  # at the first question: the staff's side (§6), from any phone

# A client who calls again about a request in progress (after where it stands).
ADD_TO_REQUEST = "1"  # a message for it; the lines tried again if nobody took it yet
REQUEST_SOLVED = "2"  # the problem is solved: the request is closed
NEW_REQUEST = "3"  # another request, a different one

# Four at most in a menu (docs/call-flow.md, "How the prompts speak"): a boiler in safety or
# showing an error code is a heating breakdown, its code in the caller's own words next.
FAULTS = {
    "1": Fault.NO_HEATING,
    "2": Fault.NO_HOT_WATER,
    "3": Fault.WATER_LEAK,
    "4": Fault.OTHER,
}

DANGERS = {
    "1": Danger.GAS,
    "2": Danger.FIRE,
    "3": Danger.CARBON_MONOXIDE,
    "4": Danger.OTHER,
}

# --- What a technician or a manager does with a request or an alert --------------------------

PUT_THROUGH = "1"  # be put through to the client now (before being put through: take the call)
TAKE = "2"  # take it in hand: they see to it themselves
REPORT = "3"  # say what came of it (then OUTCOMES)
NEXT = "4"  # the next request or alert
CALL_LINE = "5"  # a manager: be put through to the agency's on-call line
REPEAT = "*"  # hear it again
MENU = "0"  # back to the menu

OUTCOMES = {
    "1": RequestOutcome.SOLVED,
    "2": RequestOutcome.NOT_OURS,
    "3": RequestOutcome.SLOT,
    "4": RequestOutcome.ON_MY_WAY,
}

# The staff's own call, first menu.
HEAR_WAITING = "1"  # the requests waiting (a manager: the alerts under way)
DECLARE_COVERAGE = "2"  # §6 NOTA: a coverage problem
END = "3"
