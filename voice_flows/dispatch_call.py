"""The dispatcher's call to a technician or a manager, once answered (§5.2): a person hears
the summary and, with the keys of `voice_flows.keys`, is put through to the client, takes the
request in hand, or says what came of it; a voicemail box hears the summary once, after its
beep (the source's "message left on the voicemail")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from ivr.domain.outcomes import RequestOutcome
from ivr.domain.summary import RequestSummary
from voice_flows import keys
from voice_flows.engine import Entered, Event, Flow, Go, Move, Note, State, Step, key, stray, to
from voice_flows.instructions import Ask, Connect, Hangup, Say


class DispatchCallFacts(Protocol):
    @property
    def role(self) -> str:
        """technician | manager."""
        ...

    @property
    def summary(self) -> RequestSummary: ...

    @property
    def unreachable(self) -> Mapping[str, str] | None:
        """For a manager told a technician was unreachable: the agency and how many times."""
        ...

    @property
    def client_sees(self) -> str | None:
        """The number the client sees when put through: the out-of-hours number."""
        ...


@dataclass
class DispatchCallState(State):
    step: str = "answered"
    answered_by: str = "human"  # Twilio's answering-machine detection: human, machine_*...

    @property
    def voicemail(self) -> bool:
        return self.answered_by.startswith(("machine", "fax"))


DispatchStep = Step[DispatchCallState, DispatchCallFacts]


def _summary(facts: DispatchCallFacts) -> Say:
    """The request the keys act on; for a manager told of an unreachable technician, after
    the agency and how many times (the other requests waiting come by text)."""
    request = facts.summary.values(spoken=True)
    if facts.unreachable is not None:
        return Say("summary_unreachable", {**request, **facts.unreachable})
    role = "manager" if facts.role == "manager" else "technician"
    return Say(f"summary_{role}", request)


def _answered(state: DispatchCallState, facts: DispatchCallFacts) -> Entered:
    if state.voicemail:
        left = Note("voicemail_message_left", {"answered_by": state.answered_by})
        return Go("voicemail", notes=(left,))
    return Go("menu")


def _menu(state: DispatchCallState, facts: DispatchCallFacts) -> Entered:
    said = (_summary(facts), Say("outbound_menu"))
    return (Ask("menu", said, timeout=8, speech=False),)


def _chosen(state: DispatchCallState, event: Event, facts: DispatchCallFacts) -> Move:
    pressed = key(event)
    if pressed == keys.PUT_THROUGH:
        return Go("put_through", notes=(_taken("put_through"),))
    if pressed == keys.TAKE:
        return Go("noted", notes=(_taken(RequestOutcome.ACKNOWLEDGED.value),))
    if pressed == keys.REPORT:
        return Go("report")
    if pressed == keys.REPEAT:
        return Go("menu")
    return stray()


def _taken(how: str) -> Note:
    """The person took the request: put through, taken in hand, or an outcome reported."""
    return Note("taken", {"how": how})


def _report(state: DispatchCallState, facts: DispatchCallFacts) -> Entered:
    return (Ask("report", (Say("staff_outcome_menu"),), timeout=8, speech=False),)


def _reported(state: DispatchCallState, event: Event, facts: DispatchCallFacts) -> Move:
    outcome = keys.OUTCOMES.get(key(event)[:1])
    if outcome is None:
        return stray()
    return Go("noted", notes=(_taken(outcome.value),))


def _put_through(state: DispatchCallState, facts: DispatchCallFacts) -> Entered:
    callback = facts.summary.callback
    if not callback:
        return (Say("outbound_no_callback"), Hangup())
    connect = Connect("client_called", callback, "client", timeout=25, caller_id=facts.client_sees)
    return (Say("outbound_connecting"), connect)


STEPS: tuple[DispatchStep, ...] = (
    DispatchStep("answered", _answered),
    DispatchStep("voicemail", lambda state, facts: (_summary(facts), Hangup())),
    DispatchStep("menu", _menu, _chosen),
    DispatchStep("report", _report, _reported),
    DispatchStep("noted", lambda state, facts: (Say("outbound_acknowledged"), Hangup())),
    DispatchStep("put_through", _put_through),
    DispatchStep("client_called", answer=lambda state, event, facts: Go("hang_up")),
    DispatchStep("hang_up", lambda state, facts: (Hangup(),)),
    DispatchStep("goodbye", lambda state, facts: (Say("staff_goodbye"), Hangup())),
)

flow: Flow[DispatchCallState, DispatchCallFacts] = Flow(
    "dispatch_call", DispatchCallState, STEPS, give_up=to("goodbye")
)
