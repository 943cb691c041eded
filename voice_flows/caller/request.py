"""The request (§5.1.2, §5.2): the client's details read back (address, equipment, the number
to call back), the fault, the caller's own words; what the rules decide, what the caller is
told of it (only what is true at that moment), and the caller put through to the technician
when the rules say so."""

from __future__ import annotations

from ivr.domain.phones import InvalidPhoneNumber, digit_pairs, to_e164
from ivr.domain.routing import Action
from ivr.domain.spoken import contract_said, opening_said, said, when_said
from ivr.domain.summary import equipment_words
from ivr.domain.triage import Fault, spoken_digits
from voice_flows import keys
from voice_flows.caller.common import (
    CallerFacts,
    CallerState,
    CallerStep,
    description_given,
    dial_note,
    menu,
)
from voice_flows.engine import (
    Again,
    Entered,
    Event,
    Go,
    Move,
    Note,
    choice,
    chosen,
    stray,
    to,
    yes_no,
)
from voice_flows.instructions import Ask, Connect, Hangup, Say


def _confirm_details(state: CallerState, facts: CallerFacts) -> Entered:
    """§5.1.2: the client's address, the equipment and the number to call back, read back
    in one question (a call must stay short)."""
    client = state.client(facts)
    state.callback = state.callback or state.caller or (client.phone if client else None)
    if not state.callback:
        return Go("ask_callback")
    if client is None:
        return Go("ask_fault")
    details = {
        "address": said(client.address),
        "city": client.city,
        "equipment": said(equipment_words(client)),
        "phone": digit_pairs(state.callback),
    }
    return menu("confirm_details", Say("confirm_details", details))


def _details_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = yes_no(event)
    if answer is None:
        return stray()
    if answer:
        return _details(state, True)
    return Go("correct_details")


def _details(state: CallerState, confirmed: bool, says: tuple[Say, ...] = ()) -> Go:
    state.details_confirmed = confirmed
    noted = Note("details", {"confirmed": confirmed, "callback": state.callback})
    return Go("ask_fault", says, (noted,))


def _ask_correction(state: CallerState, facts: CallerFacts) -> Entered:
    # Keys only: « oui » or « non » answers neither choice.
    return (Ask("correct_details", (Say("correct_details"),), speech=False),)


def _correction_chosen(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    """Another number to call back; or the address or the equipment is not right: noted for
    the technician and the agency (on the sheet), and the call goes on."""
    picked = choice(event, {"1": "callback", "2": "details"})
    if picked is None:
        return stray()
    if picked == "callback":
        return Go("ask_callback")
    return _details(state, False, (Say("details_flagged"),))


def _ask_callback(state: CallerState, facts: CallerFacts) -> Entered:
    return (
        Ask(
            "ask_callback",
            (Say("ask_callback"),),
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
    return Go("confirm_details")


def _ask_fault(state: CallerState, facts: CallerFacts) -> Entered:
    """The fault; the keys of every menu are said again here, danger first."""
    return menu("ask_fault", Say("danger_option"), Say("ask_fault"))


def _fault_given_up(state: CallerState, facts: CallerFacts) -> Go:
    state.fault = Fault.OTHER.value
    return Go("ask_description")


def _ask_description(state: CallerState, facts: CallerFacts) -> Entered:
    """An optional description in the caller's words; their words are heard for danger at
    every menu (`voice_flows.caller.danger.heard_everywhere`)."""
    if not facts.speech:
        return Go("decide")  # nothing would hear the caller's words
    return (Ask("ask_description", (Say("ask_description"),), max_digits=1, timeout=5),)


def _description_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    if not event.speech:
        return Go("decide")
    return description_given(state, event.speech, (), event.confidence)


def _decide(state: CallerState, facts: CallerFacts) -> Entered:
    """What the rules decide (§5.2), and what the caller is told of it."""
    client = state.client(facts)
    decision = facts.decide(client, False, None)
    delay = (Say("delay", contract_said(client)),) if client and client.delay_label else ()
    action = decision.action
    if action is Action.CALL_NOW and decision.call_numbers:
        return state.decided(decision, Go("dial", (*delay, Say("calling_technician"))))
    if action is Action.CALL_NEXT_MORNING and decision.call_at:
        when = Say("next_morning", {"when": when_said(decision.call_at, facts.now)})
        return state.decided(decision, Go("leave_message", (*delay, when)))
    if action is Action.FAX_ONLY:
        opens = facts.agency_opening(client) if client else None
        told = Say("fax_only", {"opening": opening_said(opens, facts.now)})
        return state.decided(decision, Go("leave_message", (*delay, told)))
    if action is Action.LEGACY:
        return state.decided(decision, Go("legacy"))
    return state.decided(decision, Go("not_covered"))


def _dial(state: CallerState, facts: CallerFacts) -> Entered:
    """Put the caller through to the decision's numbers, one after the other, screened: the
    callee hears who needs them and takes the call with a key (voice_flows.whisper)."""
    role = "manager" if state.action == Action.ESCALATE.value else "technician"
    number = state.call_numbers[state.dial_index]
    return (Connect("dialed", number, role, screened=True),)


def _dialed(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    number = state.call_numbers[state.dial_index]
    note = dial_note(number, event)
    if event.accepted:
        state.reached = number
        return Go("goodbye", notes=(note,))
    if event.caller_gone:  # nobody to put through: the next line is the dispatcher's to call
        return Go("caller_gone", notes=(note,))
    state.dial_index += 1
    if state.dial_index < len(state.call_numbers):
        return Go("dial", notes=(note,))
    unreached = (
        "manager_unreached" if state.action == Action.ESCALATE.value else "technician_unreached"
    )
    return Go("leave_message", (Say(unreached),), (note,))


STEPS: tuple[CallerStep, ...] = (
    CallerStep("confirm_details", _confirm_details, _details_answered, give_up=to("ask_fault")),
    CallerStep("correct_details", _ask_correction, _correction_chosen, give_up=to("ask_fault")),
    CallerStep("ask_callback", _ask_callback, _callback_given, give_up=to("ask_fault")),
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
    CallerStep("caller_gone", lambda state, facts: (Hangup(),)),
)
