"""The request (§5.1.2, §5.2): the number to call back, the equipment, the fault, the caller's
own words; what the rules decide, and the caller put through to the technician when they say
so."""

from __future__ import annotations

from ivr.domain import wording
from ivr.domain.phones import InvalidPhoneNumber, digit_pairs, to_e164
from ivr.domain.routing import Action
from ivr.domain.summary import equipment_words
from ivr.domain.triage import Fault, spoken_digits
from voice_flows import keys
from voice_flows.caller.common import (
    CallerFacts,
    CallerState,
    CallerStep,
    description_given,
    menu,
    options,
)
from voice_flows.engine import Again, Entered, Event, Go, Move, Note, chosen, stray, to, yes_no
from voice_flows.instructions import Ask, Connect, Say


def _confirm_callback(state: CallerState, facts: CallerFacts) -> Entered:
    client = state.client(facts)
    state.callback = state.callback or state.caller or (client.phone if client else None)
    if not state.callback:
        return Go("ask_callback")
    said = Say("confirm_callback", {"phone": digit_pairs(state.callback)})
    return menu("confirm_callback", said, facts=facts)


def _callback_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = yes_no(event)
    if answer is None:
        return stray()
    if answer:
        return Go("confirm_equipment", notes=(Note("callback", {"number": state.callback}),))
    return Go("ask_callback")


def _ask_callback(state: CallerState, facts: CallerFacts) -> Entered:
    return (
        Ask(
            "ask_callback",
            (Say("ask_callback"), *options(facts)),
            max_digits=None,
            finish_on_key=keys.FINISH,
            timeout=10,
        ),
    )


def _callback_given(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    try:
        state.callback = to_e164(event.digits or spoken_digits(event.speech))
    except InvalidPhoneNumber:
        return Again((Say("invalid_callback"),))
    return Go("confirm_callback")


def _confirm_equipment(state: CallerState, facts: CallerFacts) -> Entered:
    client = state.client(facts)
    if client is None:
        return Go("ask_fault")
    said = Say("confirm_equipment", {"equipment": equipment_words(client)})
    return menu("confirm_equipment", said, facts=facts)


def _equipment_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = yes_no(event)
    if answer is None:
        return stray()
    state.equipment_confirmed = answer
    return Go("ask_fault", notes=(Note("equipment", {"confirmed": answer}),))


def _ask_fault(state: CallerState, facts: CallerFacts) -> Entered:
    return menu("ask_fault", Say("ask_fault"), facts=facts)


def _fault_given_up(state: CallerState, facts: CallerFacts) -> Go:
    state.fault = Fault.OTHER.value
    return Go("ask_description")


def _ask_description(state: CallerState, facts: CallerFacts) -> Entered:
    """An optional description in the caller's words; their words are heard for danger at
    every menu (`voice_flows.caller.danger.heard_everywhere`)."""
    if not facts.speech:
        return Go("decide")  # nothing would hear the caller's words
    said = (Say("ask_description"), *options(facts))
    return (Ask("ask_description", said, max_digits=1, timeout=5),)


def _description_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    if not event.speech:
        return Go("decide")
    return description_given(state, event.speech, (), event.confidence)


def _decide(state: CallerState, facts: CallerFacts) -> Entered:
    """What the rules decide (§5.2), and what the caller is told of it."""
    client = state.client(facts)
    decision = facts.decide(client, False, None)
    delay = (Say("delay", {"delay": client.delay_label}),) if client and client.delay_label else ()
    action = decision.action
    if action is Action.CALL_NOW and decision.call_numbers:
        return state.decided(decision, Go("dial", (*delay, Say("calling_technician"))))
    if action is Action.CALL_NEXT_MORNING and decision.call_at:
        when = Say("next_morning", {"when": wording.when(decision.call_at)})
        return state.decided(decision, Go("leave_message", (*delay, when)))
    if action is Action.FAX_ONLY:
        return state.decided(decision, Go("leave_message", (*delay, Say("fax_only"))))
    if action is Action.LEGACY:
        return state.decided(decision, Go("legacy"))
    return state.decided(decision, Go("leave_message", (Say("not_covered"),)))


def _dial(state: CallerState, facts: CallerFacts) -> Entered:
    """Put the caller through to the decision's numbers, one after the other, screened: the
    callee hears who needs them and takes the call with a key (voice_flows.whisper)."""
    role = "manager" if state.action == Action.ESCALATE.value else "technician"
    number = state.call_numbers[state.dial_index]
    return (Connect("dialed", number, role, screened=True),)


def _dialed(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    number = state.call_numbers[state.dial_index]
    note = Note("dial_outcome", {"number": number, "accepted": event.accepted})
    if event.accepted:
        state.reached = number
        return Go("goodbye", notes=(note,))
    state.dial_index += 1
    if state.dial_index < len(state.call_numbers):
        return Go("dial", notes=(note,))
    unreached = (
        "manager_unreached" if state.action == Action.ESCALATE.value else "technician_unreached"
    )
    return Go("leave_message", (Say(unreached),), (note,))


STEPS: tuple[CallerStep, ...] = (
    CallerStep(
        "confirm_callback",
        _confirm_callback,
        _callback_answered,
        give_up=to("confirm_equipment"),
    ),
    CallerStep("ask_callback", _ask_callback, _callback_given, give_up=to("confirm_equipment")),
    CallerStep(
        "confirm_equipment", _confirm_equipment, _equipment_answered, give_up=to("ask_fault")
    ),
    CallerStep(
        "ask_fault",
        _ask_fault,
        chosen(keys.FAULTS, "fault", then="ask_description"),
        give_up=_fault_given_up,
    ),
    CallerStep(
        "ask_description",
        _ask_description,
        _description_answered,
        give_up=to("decide"),
        takes_silence=True,
    ),
    CallerStep("decide", _decide),
    CallerStep("dial", _dial),
    CallerStep("dialed", answer=_dialed),
)
