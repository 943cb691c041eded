"""Other people and the end of the call: the agency's legacy arrangement (roll-out, §1), the
call centre (the operator key), the message for the agency, goodbye."""

from __future__ import annotations

from voice_flows.caller.common import CallerFacts, CallerState, CallerStep, dial_note
from voice_flows.caller.danger import danger_decision
from voice_flows.engine import Entered, Event, Go, Move, Note
from voice_flows.instructions import Connect, Hangup, RecordMessage, Say


def way_forward(state: CallerState, facts: CallerFacts) -> Go:
    """After three misses where a step names no way of its own: a person if there is one,
    else a message; never silence."""
    if facts.operator_number:
        state.resume = None
        return Go("operator")
    return Go("leave_message")


def _legacy(state: CallerState, facts: CallerFacts) -> Entered:
    if not state.call_numbers:
        return _legacy_failed(state, Say("technical_problem"))
    return (Say("legacy_transfer"), Connect("legacy_dialed", state.call_numbers[0], "legacy"))


def _legacy_dialed(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    number = state.call_numbers[0]
    note = dial_note(number, event)
    if event.accepted:
        state.reached = number
        return Go("goodbye", notes=(note,))
    if event.caller_gone:
        if state.danger:  # nobody warned: escalated all the same, as by _legacy_failed
            state.legacy_unreached = True
            return state.decided(danger_decision(state, facts), Go("caller_gone", notes=(note,)))
        return Go("caller_gone", notes=(note,))
    return _legacy_failed(state, Say("legacy_unreached"), (note,))


def _legacy_failed(state: CallerState, said: Say, notes: tuple[Note, ...] = ()) -> Go:
    """Nobody at the agency's legacy arrangement: a danger goes to the manager on duty, as
    for every agency; anything else, a message."""
    if state.danger:
        state.legacy_unreached = True
        return Go("danger_decide", (said,), notes)
    return Go("leave_message", (said,), notes)


def _operator(state: CallerState, facts: CallerFacts) -> Entered:
    if not facts.operator_number:
        return Go(state.resume or "leave_message")
    number = facts.operator_number
    return (Say("connecting_operator"), Connect("operator_dialed", number, "operator"))


def _operator_dialed(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    note = dial_note(facts.operator_number, event)
    if event.accepted:
        state.reached = facts.operator_number
        return Go("goodbye", notes=(note,))
    if event.caller_gone:  # nobody left to tell the operator is unavailable
        return Go("caller_gone", notes=(note,))
    resume, state.resume = state.resume or "leave_message", None
    return Go(resume, (Say("operator_unavailable"),), (note,))


def _leave_message(state: CallerState, facts: CallerFacts) -> Entered:
    """A message, always with a decision: whatever way led here (the operator unavailable, a
    way forward), the request is followed up and its agency gets the sheet."""
    if state.action is None:
        decision = facts.decide(state.client(facts), bool(state.danger), state.postcode)
        return state.decided(decision, Go("leave_message"))
    return (Say("leave_message"), RecordMessage("message_recorded"))


def _message_recorded(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    state.message_seconds = event.seconds
    if event.seconds > 0:
        kept = Note("message", {"seconds": event.seconds})
        return Go("goodbye", (Say("message_saved"),), (kept,))
    return Go("goodbye", (Say("no_message"),))


def _goodbye(state: CallerState, facts: CallerFacts) -> Entered:
    return (Say("goodbye"), Hangup())


STEPS: tuple[CallerStep, ...] = (
    CallerStep("legacy", _legacy),
    CallerStep("legacy_dialed", answer=_legacy_dialed),
    CallerStep("operator", _operator),
    CallerStep("operator_dialed", answer=_operator_dialed),
    CallerStep("leave_message", _leave_message),
    CallerStep("message_recorded", answer=_message_recorded),
    CallerStep("goodbye", _goodbye),
)
