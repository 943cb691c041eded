"""Greeting and identification (§5.1, 1 and 2): the contract number, keyed or said, or the
caller's own number proposing a client who is always confirmed; without a client, a message
for the agency of the caller's postcode."""

from __future__ import annotations

from ivr.domain.routing import Action
from ivr.domain.triage import spoken_digits
from voice_flows import keys
from voice_flows.caller.again import offer
from voice_flows.caller.common import CallerFacts, CallerState, CallerStep, menu, options, read_back
from voice_flows.engine import (
    Again,
    Entered,
    Event,
    Go,
    Handoff,
    Move,
    Note,
    key,
    stray,
    to,
    yes_no,
)
from voice_flows.instructions import Ask, Say

ID_ATTEMPTS = 3  # the number is asked once, then again twice


def _welcome(state: CallerState, facts: CallerFacts) -> Entered:
    """The greeting, and the keys that work at every menu: danger first."""
    state.recording = facts.recording_calls
    greeting = (Say("welcome"), *options(facts))
    return Go("recording_choice" if state.recording else "identify", greeting)


def _ask_recording(state: CallerState, facts: CallerFacts) -> Entered:
    """Calls are recorded: the caller is told, and may refuse with a key."""
    return (Ask("recording_choice", (Say("recording_notice"),), timeout=4),)


def _recording_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    if key(event) in (keys.REFUSE_RECORDING, keys.NO):
        state.recording = False
        return Go("identify", (Say("recording_refused"),), (Note("recording_refused"),))
    return Go("identify")


def _ask_client_id(state: CallerState, facts: CallerFacts) -> Entered:
    """The contract number, keyed and finished by #, or spoken; the caller's own number may
    bring up their request in progress, or propose a client first (once)."""
    if state.caller and state.offered is None and state.id_attempts == 0:
        calling_again = offer(state, facts.request_in_progress(None, state.caller), facts.now)
        if calling_again is not None:
            return calling_again
    if state.caller and state.proposed is None and state.id_attempts == 0:
        matches = facts.clients_with_phone(state.caller)
        state.proposed = matches[0].client_id if len(matches) == 1 else ""
        if state.proposed:
            return Go("propose_client")
    return (
        Ask(
            "identify",
            (Say("ask_client_id"),),
            max_digits=None,
            finish_on_key=keys.FINISH,
            timeout=8,
        ),
    )


def _client_id_given(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    if event.digits.startswith(keys.STAFF):  # a technician on a borrowed phone (§6)
        return Handoff("staff", (Note("staff_key"),))
    number = event.digits or spoken_digits(event.speech)
    client = facts.client(number) if 6 <= len(number) <= 12 else None
    if client is not None:
        state.client_id = client.client_id
        return Go("confirm_identity", notes=(Note("client_keyed", {"client_id": number}),))
    state.id_attempts += 1
    note = Note("client_unknown", {"keyed": number, "attempt": state.id_attempts})
    if state.id_attempts >= ID_ATTEMPTS:
        return Go("unidentified", notes=(note,))
    return Again((Say("unknown_client_id"),), (note,), miss=False)


def _propose(state: CallerState, facts: CallerFacts) -> Entered:
    client = facts.client(state.proposed or "")
    if client is None:
        return Go("identify")
    return menu("propose_client", Say("propose_client", read_back(client)))


def _proposal_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = yes_no(event)
    if answer is None:
        return stray()
    if not answer:
        return Go("identify")
    state.client_id = state.proposed
    confirmed = Note("client_confirmed", {"client_id": state.client_id, "by": "caller id"})
    return Go("identified", notes=(confirmed,))


def _confirm_identity(state: CallerState, facts: CallerFacts) -> Entered:
    client = state.client(facts)
    if client is None:
        return Go("identify")
    return menu("confirm_identity", Say("confirm_identity", read_back(client)))


def _identity_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = yes_no(event)
    if answer is None:
        return stray()
    if answer:
        confirmed = Note("client_confirmed", {"client_id": state.client_id, "by": "keys"})
        return Go("identified", notes=(confirmed,))
    state.client_id = None
    state.id_attempts += 1  # a number read back and refused counts as a wrong number
    return Go("unidentified" if state.id_attempts >= ID_ATTEMPTS else "identify")


def _identity_given_up(state: CallerState, facts: CallerFacts) -> Go:
    state.client_id = None
    return Go("identify")


def _identified(state: CallerState, facts: CallerFacts) -> Entered:
    """A client is known: an agency not live yet takes the call over at once (roll-out); a
    client who calls again hears where their request stands; a client without cover is told
    at once, not after four questions."""
    decision = facts.decide(state.client(facts), False, None)
    if decision.action is Action.LEGACY:
        return state.decided(decision, Go("legacy"))
    calling_again = offer(state, facts.request_in_progress(state.client_id, None), facts.now)
    if calling_again is not None:
        return calling_again
    if decision.action is Action.NOT_COVERED:
        return state.decided(decision, Go("not_covered"))
    return Go("confirm_details")


def _not_covered(state: CallerState, facts: CallerFacts) -> Entered:
    """Told at once, with a last chance to report a danger, which is handled covered or not
    (9 or its words, heard at every menu); any other answer, or none, is the message."""
    return (Ask("not_covered", (Say("not_covered"), Say("danger_option")), timeout=4),)


def _not_covered_answered(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    """On to the message; words said meanwhile (not a danger's: those were heard first; not
    a bare « oui » or « non ») are the caller's request, added to any they described before
    (cover may end during a call) for the agency's sheet."""
    if not event.speech or yes_no(event) is not None:
        return Go("leave_message")
    said = {"speech": event.speech, "confidence": event.confidence}
    state.description = " / ".join(filter(None, (state.description, event.speech)))
    return Go("leave_message", notes=(Note("description", said),))


def _unidentified(state: CallerState, facts: CallerFacts) -> Entered:
    """No client found: a message for the agency, found from the postcode (§5.1.1)."""
    state.client_id = None
    return Go("ask_postcode", (Say("unknown_caller"),))


def _ask_postcode(state: CallerState, facts: CallerFacts) -> Entered:
    return (
        Ask(
            "ask_postcode",
            (Say("ask_postcode"),),
            max_digits=5,
            finish_on_key=keys.FINISH,
            timeout=8,
        ),
    )


def _postcode_given(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    postcode = event.digits or spoken_digits(event.speech)
    if len(postcode) != 5:
        return Again((Say("invalid_postcode"),))
    state.postcode = postcode
    state.region = facts.region_of_postcode(postcode)
    return _message_for_agency(state, facts)


def _message_for_agency(state: CallerState, facts: CallerFacts) -> Go:
    """A message for the agency of the postcode, when one is found: it gets the sheet."""
    decision = facts.decide(None, False, state.postcode)
    known = facts.agency_of_postcode(state.postcode) if state.postcode else None
    said = Say("message_for_agency" if known else "message_without_agency")
    return state.decided(decision, Go("leave_message", (said,)))


STEPS: tuple[CallerStep, ...] = (
    CallerStep("welcome", _welcome),
    CallerStep(
        "recording_choice",
        _ask_recording,
        _recording_answered,
        give_up=to("identify"),
        takes_silence=True,
    ),
    CallerStep("identify", _ask_client_id, _client_id_given, give_up=to("unidentified")),
    CallerStep(
        "not_covered",
        _not_covered,
        _not_covered_answered,
        give_up=to("leave_message"),
        takes_silence=True,
    ),
    CallerStep("propose_client", _propose, _proposal_answered, give_up=to("identify")),
    CallerStep(
        "confirm_identity", _confirm_identity, _identity_answered, give_up=_identity_given_up
    ),
    CallerStep("identified", _identified),
    CallerStep("unidentified", _unidentified),
    CallerStep("ask_postcode", _ask_postcode, _postcode_given, give_up=_message_for_agency),
)
