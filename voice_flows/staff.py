"""The technicians' and managers' side of the out-of-hours number (docs/procedure.md §6).

An on-call line or a regional manager's mobile calling is asked its PIN; anyone else comes
here by keying * at the caller's first question, then the agency code and the PIN of one of
its lines. Three wrong PINs end the call. A technician then hears the requests waiting for
the agency, and for each: be put through to the client, take it in hand, say what came of it,
or go on (the keys of `voice_flows.keys`, the same as before being put through and on the
dispatcher's call); or declares a coverage problem, so that missed calls do not alert the
regional manager for a few hours. A manager hears the escalations under way in the region.

What they report is noted (`staff_report`, `coverage`); the service applies it in the same
transaction as the turn that heard it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ivr.domain.outcomes import RequestOutcome, slot_said
from voice_flows import keys
from voice_flows.engine import (
    Again,
    Answer,
    Entered,
    Event,
    Flow,
    Go,
    Handoff,
    Move,
    Note,
    State,
    Step,
    key,
    to,
)
from voice_flows.engine import stray as stray_key
from voice_flows.instructions import Ask, Connect, Hangup, PlayRecording, Say

MAX_PIN_TRIES = 3


@dataclass(frozen=True)
class WaitingRequest:
    """A request waiting for an agency's technician, or an escalation for a manager."""

    call_id: int
    time: str  # « 23 h 05 »
    client: str
    fault: str
    message_seconds: int
    callback: str | None
    line: str | None = None  # for a manager: the agency's on-call line, to be put through
    message_url: str | None = None  # the caller's message, to be played


class StaffFacts(Protocol):
    """What the staff's flow may ask of the world (the service layer answers)."""

    @property
    def now(self) -> datetime: ...

    def agency_lines(self, agency: str) -> list[str]: ...

    def pin_of(self, numbers: list[str], pin: str) -> str | None:
        """Which of `numbers` this PIN belongs to, if any."""
        ...

    def waiting(self, agency: str) -> list[WaitingRequest]: ...

    def request(self, call_id: int) -> WaitingRequest | None:
        """A request heard on this call, whatever became of it since (taken in hand)."""
        ...

    def alerts(self, region: str) -> list[WaitingRequest]:
        """The escalations under way in a region (danger, an unreachable line)."""
        ...


@dataclass
class StaffState(State):
    step: str = "pin"  # "agency" from a phone that is no on-call line
    number: str | None = None  # the line (or mobile) the PIN belongs to
    agency: str | None = None
    region: str | None = None  # a regional manager's
    pin_tries: int = 0
    requests: list[int] = field(default_factory=list)  # the calls heard, in order
    index: int = 0
    slot_day: str | None = None
    # The caller's state when * at their first question brought them here: a client who
    # pressed it by mistake is taken back there.
    handed_from: dict[str, Any] | None = None
    played: int | None = None  # the request whose message was just played: not again unasked

    @property
    def request(self) -> int:
        return self.requests[self.index]


StaffStep = Step[StaffState, StaffFacts]


def _ask(name: str, *says: Say, max_digits: int | None = 1, timeout: int = 8) -> Ask:
    """A question answered with keys: one, or several ended by #."""
    finish = "" if max_digits == 1 else keys.FINISH
    return Ask(
        name, says, max_digits=max_digits, finish_on_key=finish, timeout=timeout, speech=False
    )


def _number(event: Event) -> str:
    return event.digits.rstrip(keys.FINISH)


# --- Who is calling ---------------------------------------------------------------------------


def _ask_agency(state: StaffState, facts: StaffFacts) -> Entered:
    return (_ask("agency", Say("staff_ask_agency"), max_digits=None),)


def _agency_given(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    agency = _number(event)
    if not facts.agency_lines(agency):
        unknown = Note("staff_unknown_agency", {"keyed": agency})
        if state.handed_from is not None and agency == keys.DANGER:  # a client in danger
            state.handed_from = {**state.handed_from, "step": "danger_kind"}
            return Handoff("caller", (unknown, Note("danger_key", {"step": "agency"})))
        if state.handed_from is not None:  # a client's * by mistake, more likely: their menus
            said = (Say("staff_unknown_agency"),) if agency else ()
            return Handoff("caller", (unknown,), said)
        return Again((Say("staff_unknown_agency"),), (unknown,))
    state.agency, state.number = agency, None
    return Go("pin")


def _ask_pin(state: StaffState, facts: StaffFacts) -> Entered:
    return (_ask("pin", Say("staff_ask_pin"), max_digits=None),)


def _pin_given(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    numbers = [state.number] if state.number else facts.agency_lines(state.agency or "")
    number = facts.pin_of(numbers, _number(event))
    if number is not None:
        state.number, state.pin_tries = number, 0
        who = {"number": number, "agency": state.agency, "region": state.region}
        return Go("menu", notes=(Note("staff_in", who),))
    state.pin_tries += 1
    refused = Note("pin_refused", {"try": state.pin_tries, "agency": state.agency})
    if state.pin_tries >= MAX_PIN_TRIES:
        return Go("refused", notes=(refused,))
    return Again((Say("staff_wrong_pin"),), (refused,), miss=False)


def _refused(state: StaffState, facts: StaffFacts) -> Entered:
    return (Say("staff_refused"), Hangup())


def _end(state: StaffState, facts: StaffFacts) -> Entered:
    return (Say("staff_goodbye"), Hangup())


# --- The technician's side --------------------------------------------------------------------


def _menu(state: StaffState, facts: StaffFacts) -> Entered:
    return (_ask("menu", Say("manager_menu" if state.region else "staff_menu_technician")),)


def _menu_chosen(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    chosen = key(event)[:1]
    if chosen == keys.HEAR_WAITING:
        return _hear_waiting(state, facts)
    if chosen == keys.DECLARE_COVERAGE and not state.region:
        return Go("coverage")
    if chosen == keys.END:
        return Go("end")
    return stray_key()


def _hear_waiting(state: StaffState, facts: StaffFacts) -> Go:
    """The requests waiting for the agency, or the escalations of a manager's region, from
    the newest."""
    if state.region:
        heard, step, none = facts.alerts(state.region), "alert", "manager_no_alerts"
    else:
        heard, step, none = facts.waiting(state.agency or ""), "request", "staff_no_requests"
    if not heard:
        return Go("menu", (Say(none),))
    state.requests, state.index = [request.call_id for request in heard], 0
    state.played = None  # asked for again from the menu: the messages too
    return Go(step)


def _waiting(state: StaffState, facts: StaffFacts) -> WaitingRequest | None:
    """The request heard, if it is still waiting (another may have taken it meanwhile)."""
    return next((w for w in facts.waiting(state.agency or "") if w.call_id == state.request), None)


def _request(state: StaffState, facts: StaffFacts) -> Entered:
    """One waiting request: the caller's message, then what to do with it."""
    request = _waiting(state, facts)
    if request is None:  # taken in hand meanwhile: the next one
        return _next(state, "request")
    message = (
        f"Un message de {request.message_seconds} secondes a été laissé."
        if request.message_seconds
        else "Pas de message."
    )
    values = {**_heard(state, request), "message": message}
    ask = _ask("request", Say("staff_request", values))
    if request.message_url and state.played != request.call_id:
        state.played = request.call_id  # back here (taken, nobody answered): not played again
        return (Say("staff_message_follows"), PlayRecording(request.message_url), ask)
    return (ask,)


def _heard(state: StaffState, request: WaitingRequest) -> dict[str, str]:
    return {
        "position": str(state.index + 1),
        "count": str(len(state.requests)),
        "time": request.time,
        "fault": request.fault,
        "client": request.client,
    }


def _request_chosen(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    chosen = key(event)[:1]
    if chosen == keys.PUT_THROUGH:
        return Go("call_client")
    if chosen == keys.TAKE:
        return Go("request", (Say("staff_noted"),), (_report(state, RequestOutcome.ACKNOWLEDGED),))
    if chosen == keys.REPORT:
        return Go("outcome")
    if chosen == keys.NEXT:
        return _next(state, "request")
    if chosen == keys.REPEAT:
        state.played = None  # « again »: the message too
    return _repeat_or_menu(chosen, "request")


def _repeat_or_menu(chosen: str, here: str) -> Move:
    if chosen == keys.REPEAT:
        return Go(here)
    if chosen == keys.MENU:
        return Go("menu")
    return stray_key()


def _next(state: StaffState, step: str) -> Go:
    state.index += 1
    if state.index >= len(state.requests):
        return Go("menu", (Say("staff_no_more_requests"),))
    return Go(step)


def _call_client(state: StaffState, facts: StaffFacts) -> Entered:
    """The technician put through to the client (who sees the out-of-hours number), also
    once they took the request in hand."""
    request = facts.request(state.request)
    if request is None or not request.callback:
        return Go("request", (Say("outbound_no_callback"),))
    return _put_through(request.callback, "client_called")


def _put_through(number: str, then: str, said: str = "staff_calling_client") -> Entered:
    return (Say(said), Connect(then, number, "client", timeout=25))


def _dialed(taken: str, not_taken: str) -> Answer[StaffState, StaffFacts]:
    """Put through: once they spoke, on to `taken`; nobody answered, they are told so and
    taken back to `not_taken` (the request or alert they were on), to try again or act."""

    def answer(state: StaffState, event: Event, facts: StaffFacts) -> Move:
        if event.accepted:
            return Go(taken)
        if event.caller_gone:  # they hung up while it rang: nobody to tell
            return Go("end")
        return Go(not_taken, (Say("staff_not_answered"),))

    return answer


def _ask_outcome(state: StaffState, facts: StaffFacts) -> Entered:
    return (_ask("outcome", Say("staff_outcome_menu")),)


def _outcome_chosen(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    outcome = keys.OUTCOMES.get(key(event)[:1])
    if outcome is None:
        return stray_key()
    if outcome is RequestOutcome.SLOT:
        return Go("slot_day")
    return Go("menu", (Say("staff_noted"),), (_report(state, outcome),))


def _report(state: StaffState, outcome: RequestOutcome, slot: str | None = None) -> Note:
    """What came of a request, for the service to apply (`staff_report`)."""
    detail = {"call": state.request, "outcome": outcome.value, "by": state.number, "slot": slot}
    return Note("staff_report", detail)


def _number_step(
    name: str,
    prompt: str,
    low: int,
    high: int,
    then: Callable[[StaffState, int, StaffFacts], Move],
) -> StaffStep:
    """A step that asks a number from `low` to `high` (two digits, or one ended by #)."""

    def ask(state: StaffState, facts: StaffFacts) -> Entered:
        return (_ask(name, Say(prompt), max_digits=2),)

    def given(state: StaffState, event: Event, facts: StaffFacts) -> Move:
        number = _number(event)
        if not (number.isdigit() and low <= int(number) <= high):
            return stray_key()
        return then(state, int(number), facts)

    return StaffStep(name, ask, given, give_up=to("menu"))


def _slot_day(state: StaffState, day: int, facts: StaffFacts) -> Move:
    state.slot_day = str(day)  # of the month
    return Go("slot_hour")


def _slot_hour(state: StaffState, hour: int, facts: StaffFacts) -> Move:
    slot = slot_said(int(state.slot_day or 0), hour, facts.now)
    return Go("menu", (Say("staff_noted"),), (_report(state, RequestOutcome.SLOT, slot),))


def _coverage(state: StaffState, hours: int, facts: StaffFacts) -> Move:
    """§6 NOTA: poor coverage for a few hours; missed calls do not raise the manager."""
    declared = {"number": state.number, "agency": state.agency, "hours": hours}
    said = Say("staff_coverage_noted", {"hours": str(hours)})
    return Go("menu", (said,), (Note("coverage", declared),))


# --- A regional manager's alerts --------------------------------------------------------------


def _alert_of(state: StaffState, facts: StaffFacts) -> WaitingRequest | None:
    alerts = facts.alerts(state.region or "")
    return next((a for a in alerts if a.call_id == state.request), None)


def _alert(state: StaffState, facts: StaffFacts) -> Entered:
    """One escalation: hear it, be put through to the client or the agency's line, take it
    in hand."""
    alert = _alert_of(state, facts)
    if alert is None:
        return _next(state, "alert")
    return (_ask("alert", Say("manager_alert", _heard(state, alert))),)


def _alert_chosen(state: StaffState, event: Event, facts: StaffFacts) -> Move:
    chosen = key(event)[:1]
    if chosen == keys.TAKE:
        taken = _report(state, RequestOutcome.ACKNOWLEDGED)
        return Go("menu", (Say("staff_noted"),), (taken,))
    if chosen in (keys.PUT_THROUGH, keys.CALL_LINE):
        return Go("client_of_alert" if chosen == keys.PUT_THROUGH else "line_of_alert")
    if chosen == keys.NEXT:
        return _next(state, "alert")
    return _repeat_or_menu(chosen, "alert")


def _to_alert_number(which: str) -> Step[StaffState, StaffFacts]:
    """Put the manager through to the alert's client, or to the agency's on-call line."""

    def enter(state: StaffState, facts: StaffFacts) -> Entered:
        alert = _alert_of(state, facts)
        number = (alert.callback if which == "client" else alert.line) if alert else None
        if not number:
            return Go("alert", (Say("outbound_no_callback"),))
        said = "staff_calling_client" if which == "client" else "staff_calling_line"
        return _put_through(number, "manager_connected", said)

    return StaffStep(f"{which}_of_alert", enter)


STEPS: tuple[StaffStep, ...] = (
    StaffStep("agency", _ask_agency, _agency_given, give_up=to("end"), takes_silence=True),
    StaffStep("pin", _ask_pin, _pin_given, give_up=to("refused")),
    StaffStep("refused", _refused),
    StaffStep("end", _end),
    StaffStep("menu", _menu, _menu_chosen, give_up=to("end")),
    StaffStep("request", _request, _request_chosen, give_up=to("menu")),
    StaffStep("call_client", _call_client),
    StaffStep("client_called", answer=_dialed("outcome", "request")),
    StaffStep("outcome", _ask_outcome, _outcome_chosen, give_up=to("menu")),
    _number_step("slot_day", "staff_slot_day", 1, 31, _slot_day),
    _number_step("slot_hour", "staff_slot_hour", 0, 23, _slot_hour),
    _number_step("coverage", "staff_coverage_hours", 1, 24, _coverage),
    StaffStep("alert", _alert, _alert_chosen, give_up=to("menu")),
    _to_alert_number("client"),
    _to_alert_number("line"),
    StaffStep("manager_connected", answer=_dialed("menu", "alert")),
)

flow: Flow[StaffState, StaffFacts] = Flow("staff", StaffState, STEPS, give_up=to("end"))
