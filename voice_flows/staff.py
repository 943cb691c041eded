"""The technician's side of the out-of-hours number (PROCEDURE.md §6), as steps of the same
engine as the caller's flow (`voice_flows.caller`).

An on-call line calling is asked its PIN; anyone else reaches this side by keying * at the
first question, then the agency code and the PIN of one of its lines. Three wrong PINs end
the call. Then: hear the requests waiting for the agency, newest first, and for one of them
take it in hand, call the client back, or report what came of it; or declare a coverage
problem, so that missed calls do not alert the regional manager for a few hours.

What the technician reports is noted on their call (`staff_report`, `coverage`) for the
service to apply once the turn is written (the request's own trace then gets `staff_outcome`).
"""

from __future__ import annotations

from voice_flows.caller import (
    Again,
    CallState,
    Event,
    Facts,
    Go,
    Note,
    Outcome,
    WaitingRequest,
    _key,
    _stray,
    step,
)
from voice_flows.instructions import Ask, Connect, Hangup, Instruction, PlayRecording, Say

MAX_PIN_TRIES = 3
OUTCOMES = {"1": "solved", "2": "not_ours", "3": "slot", "4": "on_my_way"}


def _ask(name: str, *says: Say, max_digits: int | None = None, timeout: int = 8) -> Ask:
    return Ask(name, says, max_digits=max_digits, finish_on_key="#", timeout=timeout, speech=False)


def _goodbye(*says: Say) -> tuple[Instruction, ...]:
    return (*says, Say("staff_goodbye"), Hangup())


@step("staff_agency", danger_path=True)
class StaffAgency:
    """Keyed * at the first question: which agency (then a PIN of one of its lines)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_agency", Say("staff_ask_agency")),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        agency = event.digits.rstrip("#")
        if not facts.agency_lines(agency):
            return _stray_agency(agency)
        state.staff_agency, state.staff_number = agency, None
        return Go("staff_pin")


def _stray_agency(agency: str) -> Outcome:
    return Again((Say("staff_unknown_agency"),), (Note("staff_unknown_agency", {"keyed": agency}),))


@step("staff_pin", danger_path=True, give_up=lambda state, facts: Go("staff_refused"))
class StaffPin:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_pin", Say("staff_ask_pin")),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        agency = state.staff_agency or ""
        numbers = [state.staff_number] if state.staff_number else facts.agency_lines(agency)
        number = facts.pin_of(numbers, event.digits.rstrip("#"))
        if number is not None:
            state.staff_number, state.pin_tries = number, 0
            menu = "manager_menu" if state.staff_region else "staff_menu"
            detail = {"number": number, "agency": agency, "region": state.staff_region}
            return Go(menu, notes=(Note("staff_in", detail),))
        state.pin_tries += 1
        note = Note("pin_refused", {"try": state.pin_tries, "agency": agency})
        if state.pin_tries >= MAX_PIN_TRIES:
            return Go("staff_refused", notes=(note,))
        return Again((Say("staff_wrong_pin"),), (note,), miss=False)


@step("staff_refused", danger_path=True)
class StaffRefused:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (Say("staff_refused"), Hangup())

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("staff_refused")


@step("staff_menu", danger_path=True, give_up=lambda state, facts: Go("staff_end"))
class StaffMenu:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_menu", Say("staff_menu_technician"), max_digits=1),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        key = _key(event)[:1]
        if key == "1":
            waiting = facts.waiting(state.staff_agency or "")
            if not waiting:
                return Go("staff_menu", (Say("staff_no_requests"),))
            state.staff_requests = [w.call_id for w in waiting]
            state.request_index = 0
            return Go("staff_request")
        if key == "2":
            return Go("staff_coverage")
        if key == "3":
            return Go("staff_end")
        return _stray()


@step("staff_end", danger_path=True)
class StaffEnd:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return _goodbye()

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("staff_end")


@step("staff_request", danger_path=True, give_up=lambda state, facts: Go("staff_menu"))
class StaffRequest:
    """One waiting request: hear it, then take it, call the client, report, or go on."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        waiting = {w.call_id: w for w in facts.waiting(state.staff_agency or "")}
        request = waiting.get(state.staff_requests[state.request_index])
        if request is None:  # taken in hand meanwhile: the next one
            return _next_request(state)
        message = (
            f"Un message de {request.message_seconds} secondes a été laissé."
            if request.message_seconds
            else "Pas de message."
        )
        values = {
            "position": str(state.request_index + 1),
            "count": str(len(state.staff_requests)),
            "time": request.time,
            "fault": request.fault,
            "client": request.client,
            "message": message,
        }
        ask = _ask("staff_request", Say("staff_request", values), max_digits=1)
        if request.message_url:  # the caller's message first, then what to do with it
            return (Say("staff_message_follows"), PlayRecording(request.message_url), ask)
        return (ask,)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        key = _key(event)[:1]
        call_id = state.staff_requests[state.request_index]
        if key == "1":
            detail = {"call": call_id, "outcome": "acknowledged", "by": state.staff_number}
            note = Note("staff_report", detail)
            return Go("staff_request", (Say("staff_noted"),), (note,))
        if key == "2":
            return Go("staff_call_client")
        if key == "3":
            return Go("staff_outcome")
        if key == "4":
            return _next_request(state)
        if key == "5":
            return Go("staff_menu")
        return _stray()


def _next_request(state: CallState) -> Go:
    state.request_index += 1
    if state.request_index >= len(state.staff_requests):
        return Go("staff_menu", (Say("staff_no_more_requests"),))
    return Go("staff_request")


@step("staff_call_client", danger_path=True)
class StaffCallClient:
    """Put the technician through to the client (who sees the out-of-hours number)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        waiting = {w.call_id: w for w in facts.waiting(state.staff_agency or "")}
        request = waiting.get(state.staff_requests[state.request_index])
        if request is None or not request.callback:
            return Go("staff_request", (Say("outbound_no_callback"),))
        return (
            Say("staff_calling_client"),
            Connect("staff_client_called", request.callback, "client", timeout=25),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("staff_outcome")


@step("staff_client_called", danger_path=True)
class StaffClientCalled:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return Go("staff_outcome")

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("staff_outcome")


@step("staff_outcome", danger_path=True, give_up=lambda state, facts: Go("staff_menu"))
class StaffOutcome:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_outcome", Say("staff_outcome_menu"), max_digits=1),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        outcome = OUTCOMES.get(_key(event)[:1])
        if outcome is None:
            return _stray()
        if outcome == "slot":
            return Go("staff_slot_day")
        return _reported(state, outcome, None)


def _reported(state: CallState, outcome: str, slot: str | None) -> Go:
    call_id = state.staff_requests[state.request_index]
    detail = {"call": call_id, "outcome": outcome, "by": state.staff_number, "slot": slot}
    return Go("staff_menu", (Say("staff_noted"),), (Note("staff_report", detail),))


@step("staff_slot_day", danger_path=True, give_up=lambda state, facts: Go("staff_menu"))
class StaffSlotDay:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_slot_day", Say("staff_slot_day"), max_digits=2),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        day = event.digits.rstrip("#")
        if not (day.isdigit() and 1 <= int(day) <= 31):
            return _stray()
        state.slot_day = day.zfill(2)
        return Go("staff_slot_hour")


@step("staff_slot_hour", danger_path=True, give_up=lambda state, facts: Go("staff_menu"))
class StaffSlotHour:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_slot_hour", Say("staff_slot_hour"), max_digits=2),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        hour = event.digits.rstrip("#")
        if not (hour.isdigit() and 0 <= int(hour) <= 23):
            return _stray()
        return _reported(state, "slot", f"le {state.slot_day} à {int(hour)} h")


@step("staff_coverage", danger_path=True, give_up=lambda state, facts: Go("staff_menu"))
class StaffCoverage:
    """§6 NOTA: poor coverage for a few hours; missed calls do not raise the manager."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("staff_coverage", Say("staff_coverage_hours")),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        hours = event.digits.rstrip("#")
        if not (hours.isdigit() and 1 <= int(hours) <= 24):
            return _stray()
        detail = {"number": state.staff_number, "agency": state.staff_agency, "hours": int(hours)}
        said = Say("staff_coverage_noted", {"hours": str(int(hours))})
        return Go("staff_menu", (said,), (Note("coverage", detail),))


# --- The regional manager's side -------------------------------------------------------------


@step("manager_menu", danger_path=True, give_up=lambda state, facts: Go("staff_end"))
class ManagerMenu:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (_ask("manager_menu", Say("manager_menu"), max_digits=1),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        key = _key(event)[:1]
        if key == "1":
            alerts = facts.alerts(state.staff_region or "")
            if not alerts:
                return Go("manager_menu", (Say("manager_no_alerts"),))
            state.staff_requests = [a.call_id for a in alerts]
            state.request_index = 0
            return Go("manager_alert")
        if key == "3":
            return Go("staff_end")
        return _stray()


def _alert(state: CallState, facts: Facts) -> WaitingRequest | None:
    alerts = {a.call_id: a for a in facts.alerts(state.staff_region or "")}
    return alerts.get(state.staff_requests[state.request_index])


@step("manager_alert", danger_path=True, give_up=lambda state, facts: Go("manager_menu"))
class ManagerAlert:
    """One escalation: hear it, acknowledge it, call the client or the agency's line."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        alert = _alert(state, facts)
        if alert is None:
            return _next_alert(state)
        values = {
            "position": str(state.request_index + 1),
            "count": str(len(state.staff_requests)),
            "time": alert.time,
            "fault": alert.fault,
            "client": alert.client,
        }
        return (_ask("manager_alert", Say("manager_alert", values), max_digits=1),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        key = _key(event)[:1]
        call_id = state.staff_requests[state.request_index]
        alert = _alert(state, facts)
        if key == "1":
            detail = {"call": call_id, "outcome": "acknowledged", "by": state.staff_number}
            return Go("manager_menu", (Say("staff_noted"),), (Note("staff_report", detail),))
        if key in ("2", "3") and alert is not None:
            number = alert.callback if key == "2" else alert.line
            if not number:
                return Go("manager_alert", (Say("outbound_no_callback"),))
            state.connect_to = number
            return Go("manager_connect", notes=(Note("manager_connect", {"number": number}),))
        if key == "4":
            return _next_alert(state)
        return _stray()


def _next_alert(state: CallState) -> Go:
    state.request_index += 1
    if state.request_index >= len(state.staff_requests):
        return Go("manager_menu", (Say("staff_no_more_requests"),))
    return Go("manager_alert")


@step("manager_connect", danger_path=True)
class ManagerConnect:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        if not state.connect_to:
            return Go("manager_menu")
        number, state.connect_to = state.connect_to, None
        return (
            Say("staff_calling_client"),
            Connect("manager_connected", number, "client", timeout=25),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("manager_menu")


@step("manager_connected", danger_path=True)
class ManagerConnected:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return Go("manager_menu")

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("manager_menu")
