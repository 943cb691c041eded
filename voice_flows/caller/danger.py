"""Danger ("dispositions de sauvegarde", §5.2), before everything else: the danger key (9)
and the danger words at every menu, the safety instructions in full, the regional manager on
duty put through, then the national duty number; and the operator key (0) where there is one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ivr.domain.routing import Action, Decision
from ivr.domain.triage import Danger, danger_in
from voice_flows import keys
from voice_flows.caller.common import CallerFacts, CallerState, CallerStep, description_given
from voice_flows.engine import (
    Again,
    Answer,
    Enter,
    Entered,
    Event,
    Go,
    Move,
    Note,
    choice,
    chosen,
    key,
    stray,
    to,
)
from voice_flows.instructions import Ask, Say

_UNTIL_IDENTIFIED = (
    "Danger signalé par un appelant pas encore identifié : si l'appel s'arrête avant qu'il "
    "tape son numéro de contrat ou son code postal, la permanence nationale est prévenue."
)
_SAFETY = {
    Danger.GAS: "safety_gas",
    Danger.FIRE: "safety_fire",
    Danger.CARBON_MONOXIDE: "safety_co",
}


def heard_everywhere(
    state: CallerState, event: Event, facts: CallerFacts, current: CallerStep
) -> Move | None:
    """The danger key (or words) and the operator key, at every menu."""
    pressed = key(event)
    if pressed == keys.DANGER:
        if current.name in ("confirm_identity", "propose_client"):
            state.client_id = None  # read back but not confirmed: not a client for the danger
        return Go("danger_kind", notes=(Note("danger_key", {"step": current.name}),))
    found = danger_in(event.speech) if event.speech else None
    if found:
        danger, word = found
        state.danger, state.resume = danger.value, current.name
        state.danger_words.append(event.speech)  # for the sheet, whatever the caller says next
        heard = {"step": current.name, "word": word, "speech": event.speech}
        return Go("confirm_danger", notes=(Note("danger_words", heard),))
    if pressed == keys.OPERATOR and facts.operator_number:
        state.resume = current.name
        return Go("operator", notes=(Note("operator_key", {"step": current.name}),))
    return None


def _unless_shared(state: CallerState, facts: CallerFacts) -> None:
    """A client their number alone brought up (their request in progress) is kept for the
    danger, the manager called at once; unless several clients share that number: the
    manager would be sent to the wrong address, so the caller is asked (§5.1.1)."""
    if state.adopted and state.caller and len(facts.clients_with_phone(state.caller)) > 1:
        state.client_id, state.adopted = None, False


def _confirm_danger(state: CallerState, facts: CallerFacts) -> Entered:
    """The caller's words sounded like a danger: ask, in plain words (« Vous sentez une odeur
    de gaz ? »). Yes (1, or 9) is the danger path; a caller who keeps silent is taken as in
    danger too."""
    asked = f"confirm_danger_{state.danger or Danger.OTHER.value}"
    return (Ask("confirm_danger", (Say(asked),), timeout=5),)


def _danger_confirmed(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    answer = choice(event, {keys.YES: True, keys.DANGER: True, keys.NO: False})
    if answer is None:
        return stray()
    if answer:
        return Go("safety", notes=(Note("danger_confirmed", {"danger": state.danger}),))
    resume, state.resume, state.danger = state.resume or "identify", None, None
    denied = Note("danger_denied")
    if resume == "ask_description":  # the words were the description: kept, not asked again
        return description_given(state, state.danger_words[-1], (denied,))
    return Go(resume, notes=(denied,))


def _ask_danger_kind(state: CallerState, facts: CallerFacts) -> Entered:
    return (Ask("danger_kind", (Say("danger_kind"),), speech=False, timeout=5),)


def _danger_kind_given_up(state: CallerState, facts: CallerFacts) -> Go:
    state.danger = Danger.OTHER.value
    return Go("safety")


def _safety(state: CallerState, facts: CallerFacts) -> Entered:
    """The safety instructions, before anything else (also for an agency not live yet)."""
    _unless_shared(state, facts)
    client = state.client(facts)
    prompt = _SAFETY.get(Danger(state.danger or Danger.OTHER.value), "safety_other")
    number = facts.gas_emergency_number(client)
    says = (Say(prompt, {"gas_number": number}, interruptible=False),)
    if client is not None:
        return Go("danger_decide", says)
    # Decided at once (the region unknown: the national duty number), so that a caller whose
    # line drops now is followed up all the same; what they key next decides again.
    decision = facts.decide(None, True, None)
    if decision.call_numbers:  # else its reason says nobody can be told
        decision = replace(decision, reason=_UNTIL_IDENTIFIED)
    return state.decided(decision, Go("danger_identify", says))


def _ask_danger_client(state: CallerState, facts: CallerFacts) -> Entered:
    ask = Ask(
        "danger_identify",
        (Say("danger_ask_client_id"),),
        max_digits=None,
        finish_on_key=keys.FINISH,
        timeout=8,
        speech=False,
    )
    return (ask,)


def _danger_client_given(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    client = facts.client(event.digits) if 6 <= len(event.digits) <= 12 else None
    if client is None:
        return Go("danger_postcode")
    state.client_id = client.client_id
    return Go("danger_decide", notes=(Note("client_keyed", {"client_id": event.digits}),))


def _ask_danger_postcode(state: CallerState, facts: CallerFacts) -> Entered:
    return (Ask("danger_postcode", (Say("ask_postcode"),), max_digits=5, timeout=8, speech=False),)


def _danger_postcode_given(state: CallerState, event: Event, facts: CallerFacts) -> Move:
    if len(event.digits) != 5:
        return Again((Say("invalid_postcode"),))
    state.postcode = event.digits
    state.region = facts.region_of_postcode(event.digits)
    return Go("danger_decide")


def _danger_decide(state: CallerState, facts: CallerFacts) -> Entered:
    """The manager on duty, screened; unreachable, the next of the chain: the national duty
    number, last resort of every escalation."""
    decision = danger_decision(state, facts)
    if decision.action is Action.LEGACY:
        return state.decided(decision, Go("legacy"))
    chain = list(decision.call_numbers)
    if facts.national_duty_number and facts.national_duty_number not in chain:
        chain.append(facts.national_duty_number)
    if not chain:  # nobody to warn: never say that someone is being warned
        return state.decided(decision, Go("leave_message", (Say("nobody_on_duty"),)))
    then = state.decided(decision, Go("dial", (Say("calling_manager"),)))
    state.call_numbers = chain
    return then


def danger_decision(state: CallerState, facts: CallerFacts) -> Decision:
    """A danger as the rules decide it, from what the call knows of the caller so far."""
    return facts.decide(state.client(facts), True, state.postcode, state.legacy_unreached)


def _danger_step(
    name: str,
    enter: Enter[CallerState, CallerFacts],
    answer: Answer[CallerState, CallerFacts] | None = None,
    **more: Any,
) -> CallerStep:
    """A step of the danger path: the danger key and words are not offered again there."""
    return CallerStep(name, enter, answer, global_keys=False, **more)


# 9 again (a caller in distress keeps pressing it): another danger, at once; not « touche
# non proposée » three times before the safety instructions.
_DANGER_KIND = chosen({**keys.DANGERS, keys.DANGER: Danger.OTHER}, "danger", then="safety")

STEPS: tuple[CallerStep, ...] = (
    _danger_step("confirm_danger", _confirm_danger, _danger_confirmed, give_up=to("safety")),
    _danger_step("danger_kind", _ask_danger_kind, _DANGER_KIND, give_up=_danger_kind_given_up),
    _danger_step("safety", _safety),
    _danger_step("danger_identify", _ask_danger_client, _danger_client_given, takes_silence=True),
    _danger_step(
        "danger_postcode", _ask_danger_postcode, _danger_postcode_given, give_up=to("danger_decide")
    ),
    _danger_step("danger_decide", _danger_decide),
)
