"""The caller's state, the facts the caller's flow asks of the world, and what its steps share."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from ivr.domain.model import Client
from ivr.domain.progress import Progress
from ivr.domain.routing import Decision
from ivr.domain.spoken import said
from voice_flows.engine import Event, Go, Note, State, Step
from voice_flows.instructions import Ask, Instruction, Say


class CallerFacts(Protocol):
    """What the caller's flow may ask of the world (the service layer answers)."""

    @property
    def operator_number(self) -> str | None: ...

    @property
    def recording_calls(self) -> bool: ...

    @property
    def national_duty_number(self) -> str | None: ...

    @property
    def speech(self) -> bool: ...

    @property
    def now(self) -> datetime: ...

    def client(self, client_id: str) -> Client | None: ...

    def clients_with_phone(self, number: str) -> list[Client]: ...

    def decide(
        self,
        client: Client | None,
        danger: bool,
        postcode: str | None,
        legacy_unreached: bool = False,
    ) -> Decision:
        """What the rules decide (`postcode`: keyed by an unidentified caller;
        `legacy_unreached`: the agency's legacy arrangement did not take the call)."""
        ...

    def region_of_postcode(self, postcode: str) -> str | None: ...

    def agency_of_postcode(self, postcode: str) -> str | None: ...

    def gas_emergency_number(self, client: Client | None) -> str: ...

    def agency_opening(self, client: Client) -> datetime | None:
        """When the client's agency next opens (None: it is open now)."""
        ...

    def request_in_progress(self, client_id: str | None, number: str | None) -> Progress | None:
        """The caller's latest request still in progress (not closed, not processed by the
        agency) of the last hours: their client's, or made from their number."""
        ...

    def progress(self, request_id: int) -> Progress | None:
        """Where a request stands now; None once it is closed."""
        ...


@dataclass
class CallerState(State):
    """Everything the caller's flow remembers between two webhooks."""

    step: str = "welcome"
    caller: str | None = None  # E.164, when the caller's number is shown
    recording: bool = False
    client_id: str | None = None
    proposed: str | None = None
    id_attempts: int = 0
    callback: str | None = None
    details_confirmed: bool | None = None  # address and equipment, as read back
    fault: str | None = None
    description: str | None = None
    danger: str | None = None
    danger_words: list[str] = field(default_factory=list)  # what the caller said of a danger
    postcode: str | None = None
    region: str | None = None
    action: str | None = None
    call_numbers: list[str] = field(default_factory=list)
    dial_index: int = 0
    resume: str | None = None  # the menu a caller left for the danger or operator key
    legacy_unreached: bool = False  # the agency's legacy arrangement did not take the call
    reached: str | None = None
    message_seconds: int = 0
    offered: int | None = None  # a request in progress the caller was told of
    adopted: bool = False  # `client_id` is that request's, found by the caller's number alone
    request_id: int | None = None  # the request in progress this call adds to

    def client(self, facts: CallerFacts) -> Client | None:
        """The client the caller confirmed (or is reading back), if any."""
        return facts.client(self.client_id) if self.client_id else None

    def own_words(self) -> str | None:
        """Everything the caller said in their own words (of a danger, of their request),
        each once, as the agency reads it."""
        said = [*self.danger_words, *filter(None, [self.description])]
        return " / ".join(dict.fromkeys(said)) or None

    def decided(self, decision: Decision, then: Go) -> Go:
        """The rules' decision, kept with the call and traced; then on to `then`."""
        self.action = decision.action.value
        self.call_numbers = list(decision.call_numbers)
        self.dial_index = 0
        return replace(then, notes=(*then.notes, Note("decision", decision.as_json())))


CallerStep = Step[CallerState, CallerFacts]


def description_given(
    state: CallerState, words: str, notes: tuple[Note, ...], confidence: float | None = None
) -> Go:
    """The caller's words describe the request: kept, and on to the decision."""
    state.description = words
    detail = {"speech": words, "confidence": confidence}
    return Go("decide", notes=(*notes, Note("description", detail)))


def read_back(client: Client) -> dict[str, str]:
    """A client as read back to the caller: name, town, contract number digit by digit."""
    return {"name": said(client.name), "city": client.city, "client_id": " ".join(client.client_id)}


def options(facts: CallerFacts) -> tuple[Say, ...]:
    """The keys that work at every menu, said at the greeting (a call must stay short): danger
    (9) and, where there is one, the operator (0). The fault menu says danger again (`9`):
    it is where a caller thinks of it."""
    operator = (Say("operator_option"),) if facts.operator_number else ()
    return (Say("danger_option"), *operator)


def menu(name: str, *says: Say) -> tuple[Instruction, ...]:
    """A one-key question."""
    return (Ask(name, says),)


def dial_note(number: str | None, event: Event) -> Note:
    """A line's outcome for the trace: taken or not, or the caller gone before they were put
    through (it was ringing, or its person hearing the announcement)."""
    detail = {"number": number, "accepted": event.accepted}
    return Note("dial_outcome", detail | ({"caller_gone": True} if event.caller_gone else {}))
