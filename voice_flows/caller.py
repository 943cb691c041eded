"""The caller's call (PROCEDURE.md §5.1, §5.2), as named steps and one `next_step` function.

Each step says what it asks when the call enters it (`enter`) and where each answer leads
(`answer`). Menus are data: their keys, by name (`voice_flows.keys`), and the step each leads
to. Two keys work at every menu: danger (9, or danger words when speech is on) and, when a
call centre is configured, the operator (0). A silence or a stray key is answered, shorter,
and after the third miss the caller is offered a way forward, never dropped.

The flow knows no Twilio and no database: what it needs to know about the world comes through
`Facts`, and what it decides comes back as instructions (`voice_flows.instructions`) and
notes for the call's trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ivr.domain import wording
from ivr.domain.model import Client
from ivr.domain.phones import InvalidPhoneNumber, digit_pairs, to_e164
from ivr.domain.routing import Action, Decision
from ivr.domain.triage import Danger, Fault, danger_in, fold, spoken_digits
from voice_flows import keys
from voice_flows.instructions import (
    Ask,
    Connect,
    Hangup,
    Instruction,
    RecordMessage,
    Say,
    Whisper,
)

MAX_MISSES = 3
ID_ATTEMPTS = 3  # the number is asked once, then again twice


class Facts(Protocol):
    """What the flow may ask of the world (the service layer answers)."""

    @property
    def operator_number(self) -> str | None: ...

    @property
    def recording_calls(self) -> bool: ...

    @property
    def national_duty_number(self) -> str | None: ...

    @property
    def speech(self) -> bool: ...

    def client(self, client_id: str) -> Client | None: ...

    def clients_with_phone(self, number: str) -> list[Client]: ...

    def decide(
        self, client: Client | None, danger: bool, caller_region: str | None
    ) -> Decision: ...

    def region_of_postcode(self, postcode: str) -> str | None: ...

    def gas_emergency_number(self, client: Client | None) -> str: ...

    # The staff's side (§6).
    def staff_line(self, number: str | None) -> str | None:
        """The agency whose on-call line this number is, if it is one."""
        ...

    def agency_lines(self, agency: str) -> list[str]: ...

    def pin_of(self, numbers: list[str], pin: str) -> str | None:
        """Which of `numbers` this PIN belongs to, if any."""
        ...

    def waiting(self, agency: str) -> list[WaitingRequest]: ...

    def manager_region(self, number: str | None) -> str | None:
        """The region whose on-duty planning lists this mobile, if any."""
        ...

    def alerts(self, region: str) -> list[WaitingRequest]:
        """The escalations under way in a region (danger, an unreachable line)."""
        ...


@dataclass(frozen=True)
class WaitingRequest:
    """A request waiting for an agency's technician, as the staff menu reads it."""

    call_id: int
    time: str  # « 23 h 05 »
    client: str
    fault: str
    message_seconds: int
    callback: str | None
    line: str | None = None  # for a manager: the agency's on-call line, to be put through
    message_url: str | None = None  # the caller's message, to be played


@dataclass
class CallState:
    """Everything the flow remembers between two webhooks (stored with the call)."""

    step: str = "welcome"
    misses: int = 0
    caller: str | None = None
    recording: bool = False
    client_id: str | None = None
    proposed: str | None = None
    id_attempts: int = 0
    callback: str | None = None
    equipment_confirmed: bool | None = None
    fault: str | None = None
    description: str | None = None
    danger: str | None = None
    postcode: str | None = None
    region: str | None = None
    action: str | None = None
    call_numbers: list[str] = field(default_factory=list)
    dial_index: int = 0
    resume: str | None = None
    reached: str | None = None
    message_seconds: int = 0
    # The staff's side (§6, voice_flows/staff.py).
    staff_number: str | None = None
    staff_agency: str | None = None
    staff_region: str | None = None  # a regional manager's
    pin_tries: int = 0
    staff_requests: list[int] = field(default_factory=list)
    request_index: int = 0
    slot_day: str | None = None
    connect_to: str | None = None  # a manager's choice: the client or the agency's line

    def to_dict(self) -> dict[str, Any]:
        return {name: _copied(value) for name, value in vars(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallState:
        fields = cls.__dataclass_fields__
        return cls(**{name: _copied(value) for name, value in data.items() if name in fields})


def _copied(value: Any) -> Any:
    """A field's value for a new owner: every field is a plain value or a list of plain
    values, and a list is copied, so that a state and the dict it came from or went to (kept
    by the process for the call's next turn) never share one."""
    return list(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class Event:
    """What happened since the last turn: the call started, the caller answered (keys or
    words; neither is silence), a call we placed ended, or a message was recorded."""

    kind: str  # start | input | dialed | recorded
    digits: str = ""
    speech: str = ""
    confidence: float | None = None
    accepted: bool = False  # dialed: a person took the call
    seconds: int = 0  # recorded: length of the message

    @property
    def silent(self) -> bool:
        return not self.digits and not self.speech.strip()


@dataclass(frozen=True)
class Note:
    """A fact for the call's trace: what the caller chose, what was decided and why."""

    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Turn:
    """What to do now: instructions for the phone, notes for the trace."""

    instructions: tuple[Instruction, ...]
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Go:
    """Move to `step`, saying `says` first."""

    step: str
    says: tuple[Say, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Again:
    """Ask the same step again, after `says` (a stray key, an unknown number)."""

    says: tuple[Say, ...] = ()
    notes: tuple[Note, ...] = ()
    miss: bool = True


Outcome = Go | Again
Enter = Callable[[CallState, Facts], "tuple[Instruction, ...] | Go"]
Answer = Callable[[CallState, Event, Facts], Outcome]


@dataclass(frozen=True)
class Step:
    name: str
    enter: Enter
    answer: Answer
    # Where a caller who keeps not answering goes, after the third miss.
    give_up: Callable[[CallState, Facts], Go] | None = None
    danger_path: bool = False  # the danger key and words are not offered again here
    takes_silence: bool = False  # silence (or a lone #) is an answer here, not a miss


STEPS: dict[str, Step] = {}


def step(
    name: str,
    *,
    give_up: Callable[[CallState, Facts], Go] | None = None,
    danger_path: bool = False,
    takes_silence: bool = False,
) -> Callable[[type], type]:
    """Register a step from a class with `enter` and `answer` static methods."""

    def register(cls: type) -> type:
        enter, answer = cls.enter, cls.answer  # type: ignore[attr-defined]
        STEPS[name] = Step(name, enter, answer, give_up, danger_path, takes_silence)
        return cls

    return register


# --- The engine ----------------------------------------------------------------------------


def next_step(state: CallState, event: Event, facts: Facts) -> tuple[CallState, Turn]:
    """The one function that moves a call on: from a state and an event, the next turn."""
    state = replace(
        state, call_numbers=list(state.call_numbers), staff_requests=list(state.staff_requests)
    )
    if event.kind == "start":
        return _enter(state, "welcome", facts, (), ())
    current = STEPS[state.step]
    outcome = _global_keys(state, event, facts, current) or _answer(state, event, facts, current)
    if isinstance(outcome, Again):
        state.misses += outcome.miss
        if state.misses >= MAX_MISSES:
            fallback = (current.give_up or _way_forward)(state, facts)
            return _enter(
                state,
                fallback.step,
                facts,
                outcome.says + fallback.says,
                (*outcome.notes, Note("gave_up", {"step": current.name}), *fallback.notes),
            )
        instructions = current.enter(state, facts)
        assert not isinstance(instructions, Go), f"{current.name} cannot be asked again"
        return state, Turn(_prefix(outcome.says, instructions), outcome.notes)
    return _enter(state, outcome.step, facts, outcome.says, outcome.notes)


def _answer(state: CallState, event: Event, facts: Facts, current: Step) -> Outcome:
    if event.kind == "input" and event.silent and not current.takes_silence:
        return Again((Say("no_input"),), (Note("silence", {"step": current.name}),))
    return current.answer(state, event, facts)


def _global_keys(state: CallState, event: Event, facts: Facts, current: Step) -> Outcome | None:
    """The danger key (or words) and the operator key, at every menu."""
    if event.kind != "input" or current.danger_path:
        return None
    key = _key(event)
    if key == keys.DANGER:
        if current.name in ("confirm_identity", "propose_client"):
            state.client_id = None  # read back but not confirmed: not a client for the danger
        return Go("danger_kind", notes=(Note("danger_key", {"step": current.name}),))
    found = danger_in(event.speech) if event.speech else None
    if found:
        danger, word = found
        state.danger = danger.value
        state.resume = current.name
        return Go(
            "confirm_danger",
            notes=(
                Note("danger_words", {"step": current.name, "word": word, "speech": event.speech}),
            ),
        )
    if key == keys.OPERATOR and facts.operator_number:
        state.resume = current.name
        return Go("operator", notes=(Note("operator_key", {"step": current.name}),))
    return None


def _enter(
    state: CallState, name: str, facts: Facts, says: tuple[Say, ...], notes: tuple[Note, ...]
) -> tuple[CallState, Turn]:
    """Enter step `name`, following steps that decide by themselves (no question asked)."""
    for _ in range(20):
        if name != state.step:
            state.misses = 0
        state.step = name
        entered = STEPS[name].enter(state, facts)
        if isinstance(entered, Go):
            says, notes, name = says + entered.says, notes + entered.notes, entered.step
            continue
        # The answer goes to the step the waiting instruction names (a dial's outcome to
        # "dialed", a message to "message_recorded").
        state.step = next(
            (i.step for i in entered if isinstance(i, Ask | Connect | RecordMessage)), state.step
        )
        return state, Turn(_prefix(says, entered), notes)
    raise RuntimeError(f"the flow loops from step {name}")


def _prefix(
    says: tuple[Say, ...], instructions: tuple[Instruction, ...]
) -> tuple[Instruction, ...]:
    """Say `says` first: inside the first question when there is one, so it can be cut short."""
    if says and instructions and isinstance(instructions[0], Ask):
        first = instructions[0]
        cut = max((i + 1 for i, say in enumerate(says) if not say.interruptible), default=0)
        return (*says[:cut], replace(first, says=says[cut:] + first.says), *instructions[1:])
    return (*says, *instructions)


def _way_forward(state: CallState, facts: Facts) -> Go:
    """After three misses: a person if there is one, else a message; never silence."""
    if facts.operator_number:
        state.resume = None
        return Go("operator")
    return Go("leave_message")


def _options(state: CallState, facts: Facts, *, danger_first: bool = False) -> tuple[Say, ...]:
    operator = (Say("operator_option"),) if facts.operator_number else ()
    if danger_first:
        return (Say("danger_option"), *operator)
    return (*operator, Say("danger_option"))


def _menu(
    name: str, *says: Say, state: CallState, facts: Facts, danger_first: bool = False
) -> tuple[Instruction, ...]:
    return (Ask(name, (*says, *_options(state, facts, danger_first=danger_first))),)


_SPOKEN_ANSWERS = {"oui": keys.YES, "non": keys.NO}


def _spoken_key(speech: str) -> str:
    """The key a spoken answer stands for: « oui » / « non » first, or a digit said alone
    (« neuf »). « non, j'ai un autre numéro » is a no; « depuis neuf heures » is no key."""
    words = fold(speech).replace(",", " ").replace(".", " ").split()
    if not words:
        return ""
    if words[0] in _SPOKEN_ANSWERS:
        return _SPOKEN_ANSWERS[words[0]]
    digits = spoken_digits(speech)
    return digits if len(words) == 1 and len(digits) == 1 else ""


def _key(event: Event) -> str:
    """The key pressed (a trailing # dropped) or said."""
    return event.digits.rstrip(keys.FINISH) or _spoken_key(event.speech)


def _choice(event: Event, options: Mapping[str, Any]) -> Any | None:
    """The option a key (or its spoken word) picks, or None."""
    return options.get(_key(event)[:1])


def _yes_no(event: Event) -> bool | None:
    """1 (« oui ») or 2 (« non »); None for anything else."""
    answer: bool | None = _choice(event, {keys.YES: True, keys.NO: False})
    return answer


def _stray() -> Again:
    return Again((Say("invalid_key"),))


def _client(state: CallState, facts: Facts) -> Client | None:
    return facts.client(state.client_id) if state.client_id else None


def _values(client: Client) -> dict[str, str]:
    return {"name": client.name, "city": client.city, "client_id": " ".join(client.client_id)}


# --- Greeting and identification -----------------------------------------------------------


@step("welcome")
class Welcome:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        agency = facts.staff_line(state.caller)
        if agency is not None:  # an on-call line calling: the staff's side, after a PIN
            state.staff_number, state.staff_agency = state.caller, agency
            return Go("staff_pin")
        region = facts.manager_region(state.caller)
        if region is not None:  # a regional manager: their side, after a PIN
            state.staff_number, state.staff_region = state.caller, region
            return Go("staff_pin")
        state.recording = facts.recording_calls
        if state.recording:
            return Go("recording_choice", (Say("welcome"),))
        return Go("identify", (Say("welcome"),))

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        return Go("identify")


@step("recording_choice", give_up=lambda state, facts: Go("identify"), takes_silence=True)
class RecordingChoice:
    """Calls are recorded: the caller is told, and may refuse with a key."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (
            Ask("recording_choice", (Say("recording_notice"), *_options(state, facts)), timeout=4),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        if _key(event) in (keys.REFUSE_RECORDING, keys.NO):
            state.recording = False
            return Go("identify", (Say("recording_refused"),), (Note("recording_refused"),))
        return Go("identify")


@step("identify", give_up=lambda state, facts: Go("unidentified"))
class Identify:
    """The client number, keyed and finished by #, or spoken; the caller's own number may
    propose a client, who is always confirmed."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        if state.caller and state.proposed is None and state.id_attempts == 0:
            matches = facts.clients_with_phone(state.caller)
            state.proposed = matches[0].client_id if len(matches) == 1 else ""
            if state.proposed:
                return Go("propose_client")
        return (
            Ask(
                "identify",
                (*_options(state, facts, danger_first=True), Say("ask_client_id")),
                max_digits=None,
                finish_on_key=keys.FINISH,
                timeout=8,
            ),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        if event.digits.startswith(keys.STAFF):  # a technician on a borrowed phone (§6)
            return Go("staff_agency", notes=(Note("staff_key", {}),))
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


@step("propose_client", give_up=lambda state, facts: Go("identify"))
class ProposeClient:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        client = facts.client(state.proposed or "")
        if client is None:
            return Go("identify")
        return _menu(
            "propose_client",
            Say("propose_client", _values(client)),
            state=state,
            facts=facts,
            danger_first=True,
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        choice = _yes_no(event)
        if choice is None:
            return _stray()
        if choice:
            state.client_id = state.proposed
            return Go(
                "identified",
                notes=(
                    Note("client_confirmed", {"client_id": state.client_id, "by": "caller id"}),
                ),
            )
        return Go("identify")


def _identity_given_up(state: CallState, facts: Facts) -> Go:
    state.client_id = None
    return Go("identify")


@step("confirm_identity", give_up=_identity_given_up)
class ConfirmIdentity:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        client = _client(state, facts)
        if client is None:
            return Go("identify")
        return _menu(
            "confirm_identity", Say("confirm_identity", _values(client)), state=state, facts=facts
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        choice = _yes_no(event)
        if choice is None:
            return _stray()
        if choice:
            return Go(
                "identified",
                notes=(Note("client_confirmed", {"client_id": state.client_id, "by": "keys"}),),
            )
        state.client_id = None
        state.id_attempts += 1  # a number read back and refused counts as a wrong number
        if state.id_attempts >= ID_ATTEMPTS:
            return Go("unidentified")
        return Go("identify")


@step("identified")
class Identified:
    """A client is known: an agency not live yet takes the call over at once (roll-out)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        decision = facts.decide(_client(state, facts), False, None)
        if decision.action is Action.LEGACY:
            return _decided(state, decision, Go("legacy"))
        if decision.action is Action.NOT_COVERED:  # told at once, not after four questions
            return _decided(state, decision, Go("leave_message", (Say("not_covered"),)))
        return Go("confirm_callback")

    answer = staticmethod(lambda state, event, facts: Go("confirm_callback"))


@step("unidentified")
class Unidentified:
    """No client found: a message for the agency, found from the postcode (§5.1.1)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        state.client_id = None
        return Go("ask_postcode", (Say("unknown_caller"),))

    answer = staticmethod(lambda state, event, facts: Go("ask_postcode"))


def _postcode_given_up(state: CallState, facts: Facts) -> Go:
    decision = facts.decide(None, False, None)
    return _decided(state, decision, Go("leave_message", (Say("message_for_agency"),)))


@step("ask_postcode", give_up=_postcode_given_up)
class AskPostcode:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (
            Ask(
                "ask_postcode",
                (Say("ask_postcode"), *_options(state, facts)),
                max_digits=5,
                finish_on_key=keys.FINISH,
                timeout=8,
            ),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        postcode = event.digits or spoken_digits(event.speech)
        if len(postcode) != 5:
            return Again((Say("invalid_postcode"),))
        state.postcode = postcode
        state.region = facts.region_of_postcode(postcode)
        decision = facts.decide(None, False, state.region)
        return _decided(state, decision, Go("leave_message", (Say("message_for_agency"),)))


# --- Details of the request (§5.1.2) --------------------------------------------------------


@step("confirm_callback", give_up=lambda state, facts: Go("confirm_equipment"))
class ConfirmCallback:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        client = _client(state, facts)
        state.callback = state.callback or state.caller or (client.phone if client else None)
        if not state.callback:
            return Go("ask_callback")
        return _menu(
            "confirm_callback",
            Say("confirm_callback", {"phone": digit_pairs(state.callback)}),
            state=state,
            facts=facts,
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        choice = _yes_no(event)
        if choice is None:
            return _stray()
        if choice:
            return Go("confirm_equipment", notes=(Note("callback", {"number": state.callback}),))
        return Go("ask_callback")


@step("ask_callback", give_up=lambda state, facts: Go("confirm_equipment"))
class AskCallback:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (
            Ask(
                "ask_callback",
                (Say("ask_callback"), *_options(state, facts)),
                max_digits=None,
                finish_on_key=keys.FINISH,
                timeout=10,
            ),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        try:
            state.callback = to_e164(event.digits or spoken_digits(event.speech))
        except InvalidPhoneNumber:
            return Again((Say("invalid_callback"),))
        return Go("confirm_callback")


@step("confirm_equipment", give_up=lambda state, facts: Go("ask_fault"))
class ConfirmEquipment:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        client = _client(state, facts)
        if client is None:
            return Go("ask_fault")
        label = client.equipment_label or _EQUIPMENT[client.equipment.value]
        return _menu(
            "confirm_equipment",
            Say("confirm_equipment", {"equipment": label}),
            state=state,
            facts=facts,
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        choice = _yes_no(event)
        if choice is None:
            return _stray()
        state.equipment_confirmed = choice
        return Go("ask_fault", notes=(Note("equipment", {"confirmed": choice}),))


_EQUIPMENT = {
    "gas_boiler": "une chaudière gaz",
    "oil_boiler": "une chaudière fioul",
    "heat_pump": "une pompe à chaleur",
    "boiler_room": "une chaufferie",
    "other": "votre équipement",
}


def _fault_given_up(state: CallState, facts: Facts) -> Go:
    state.fault = Fault.OTHER.value
    return Go("ask_description")


@step("ask_fault", give_up=_fault_given_up)
class AskFault:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return _menu("ask_fault", Say("ask_fault"), state=state, facts=facts)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        fault = _choice(event, keys.FAULTS)
        if fault is None:
            return _stray()
        state.fault = fault.value
        return Go("ask_description", notes=(Note("fault", {"fault": fault.value}),))


@step("ask_description", give_up=lambda state, facts: Go("decide"), takes_silence=True)
class AskDescription:
    """An optional description in the caller's words; their words are scanned for danger
    at every menu (see `_global_keys`)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        if not facts.speech:
            return Go("decide")  # nothing would hear the caller's words
        return (
            Ask(
                "ask_description",
                (Say("ask_description"), *_options(state, facts)),
                max_digits=1,
                timeout=5,
            ),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        if event.speech:
            state.description = event.speech
            return Go(
                "decide",
                notes=(
                    Note("description", {"speech": event.speech, "confidence": event.confidence}),
                ),
            )
        return Go("decide")


# --- What the rules decide (§5.2) -------------------------------------------------------------


def _decided(state: CallState, decision: Decision, then: Go) -> Go:
    state.action = decision.action.value
    state.call_numbers = list(decision.call_numbers)
    state.dial_index = 0
    return replace(then, notes=(*then.notes, Note("decision", decision.as_json())))


@step("decide")
class Decide:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        client = _client(state, facts)
        decision = facts.decide(client, False, None)
        delay = (
            (Say("delay", {"delay": client.delay_label}),) if client and client.delay_label else ()
        )
        action = decision.action
        if action is Action.CALL_NOW and decision.call_numbers:
            return _decided(state, decision, Go("dial", (*delay, Say("calling_technician"))))
        if action is Action.CALL_NEXT_MORNING and decision.call_at:
            when = wording.when(decision.call_at)
            return _decided(
                state, decision, Go("leave_message", (*delay, Say("next_morning", {"when": when})))
            )
        if action is Action.FAX_ONLY:
            return _decided(state, decision, Go("leave_message", (*delay, Say("fax_only"))))
        if action is Action.LEGACY:
            return _decided(state, decision, Go("legacy"))
        return _decided(state, decision, Go("leave_message", (Say("not_covered"),)))

    answer = staticmethod(lambda state, event, facts: Go("leave_message"))


def _where(state: CallState) -> str:
    if state.postcode:
        return f"code postal {' '.join(state.postcode)}"
    return "lieu inconnu"


def whisper_for(state: CallState, facts: Facts) -> Whisper:
    """What the technician or manager hears before taking the call: the most useful first."""
    values = summary_values(state, facts)
    if state.action == Action.ESCALATE.value:
        return Whisper((Say("whisper_manager", values),), "manager")
    return Whisper((Say("whisper_technician", values),), "technician")


def summary_values(state: CallState, facts: Facts) -> dict[str, str]:
    """What a technician or a manager is told of a request (whisper, call, text message)."""
    client = _client(state, facts)
    fault = Fault(state.fault).label if state.fault else "non précisé"
    return {
        "city": client.city if client else _where(state),
        "fault": fault,
        "name": client.name if client else "inconnu",
        "phone": digit_pairs(state.callback or state.caller or "") or "numéro inconnu",
        "delay": client.delay_label if client and client.delay_label else "non précisé",
        "danger": Danger(state.danger).label if state.danger else "",
        "postcode": state.postcode or "",
        "equipment": (client.equipment_label or _EQUIPMENT[client.equipment.value])
        if client
        else "non précisé",
    }


@step("dial")
class Dial:
    """Put the caller through to the decision's numbers, one after the other, screened."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        whisper = whisper_for(state, facts)
        return (
            Connect("dialed", state.call_numbers[state.dial_index], whisper.kind, whisper=whisper),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
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


@step("dialed")
class Dialed:
    enter = staticmethod(lambda state, facts: Go("goodbye"))
    answer = Dial.answer


# --- Danger ("dispositions de sauvegarde") ----------------------------------------------------


@step("confirm_danger", give_up=lambda state, facts: Go("safety"), danger_path=True)
class ConfirmDanger:
    """The caller's words sounded like a danger: ask. Yes (1, or 9) is the danger path; a
    caller who keeps silent is taken as in danger too."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        label = Danger(state.danger).label if state.danger else "danger"
        return (Ask("confirm_danger", (Say("confirm_danger", {"danger": label}),), timeout=5),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        choice = _choice(event, {keys.YES: True, keys.DANGER: True, keys.NO: False})
        if choice is None:
            return _stray()
        if choice:
            return Go("safety", notes=(Note("danger_confirmed", {"danger": state.danger}),))
        resume, state.resume, state.danger = state.resume or "identify", None, None
        return Go(resume, notes=(Note("danger_denied"),))


def _danger_given_up(state: CallState, facts: Facts) -> Go:
    state.danger = Danger.OTHER.value
    return Go("safety")


@step("danger_kind", give_up=_danger_given_up, danger_path=True)
class DangerKind:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (Ask("danger_kind", (Say("danger_kind"),), speech=False, timeout=5),)

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        danger = _choice(event, keys.DANGERS)
        if danger is None:
            return _stray()
        state.danger = danger.value
        return Go("safety", notes=(Note("danger", {"danger": danger.value}),))


@step("safety", danger_path=True)
class Safety:
    """The safety instructions, before anything else (also for an agency not live yet)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        danger = Danger(state.danger or Danger.OTHER.value)
        client = _client(state, facts)
        prompt = {
            Danger.GAS: "safety_gas",
            Danger.FIRE: "safety_fire",
            Danger.CARBON_MONOXIDE: "safety_co",
        }.get(danger, "safety_other")
        number = facts.gas_emergency_number(client)
        says = (Say(prompt, {"gas_number": number}, interruptible=False),)
        return Go("danger_decide" if client else "danger_identify", says)

    answer = staticmethod(lambda state, event, facts: Go("danger_decide"))


@step("danger_identify", danger_path=True, takes_silence=True)
class DangerIdentify:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (
            Ask(
                "danger_identify",
                (Say("danger_ask_client_id"),),
                max_digits=None,
                finish_on_key=keys.FINISH,
                timeout=8,
                speech=False,
            ),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        client = facts.client(event.digits) if 6 <= len(event.digits) <= 12 else None
        if client is None:
            return Go("danger_postcode")
        state.client_id = client.client_id
        return Go("danger_decide", notes=(Note("client_keyed", {"client_id": event.digits}),))


@step("danger_postcode", give_up=lambda state, facts: Go("danger_decide"), danger_path=True)
class DangerPostcode:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (
            Ask("danger_postcode", (Say("ask_postcode"),), max_digits=5, timeout=8, speech=False),
        )

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        if len(event.digits) != 5:
            return Again((Say("invalid_postcode"),))
        state.postcode = event.digits
        state.region = facts.region_of_postcode(event.digits)
        return Go("danger_decide")


@step("danger_decide", danger_path=True)
class DangerDecide:
    """The manager on duty, screened; unreachable, the next of the chain: the national duty
    number, last resort of every escalation (CONTRACT.md)."""

    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        decision = facts.decide(_client(state, facts), True, state.region)
        if decision.action is Action.LEGACY:
            return _decided(state, decision, Go("legacy"))
        chain = list(decision.call_numbers)
        if facts.national_duty_number and facts.national_duty_number not in chain:
            chain.append(facts.national_duty_number)
        if not chain:
            return _decided(state, decision, Go("leave_message", (Say("manager_unreached"),)))
        go = _decided(state, decision, Go("dial", (Say("calling_manager"),)))
        state.call_numbers = chain
        return go

    answer = staticmethod(lambda state, event, facts: Go("leave_message"))


# --- Other people: the agency's legacy arrangement, the call centre ---------------------------


@step("legacy")
class Legacy:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        if not state.call_numbers:
            return Go("leave_message", (Say("technical_problem"),))
        return (Say("legacy_transfer"), Connect("legacy_dialed", state.call_numbers[0], "legacy"))

    answer = staticmethod(lambda state, event, facts: Go("leave_message"))


@step("legacy_dialed")
class LegacyDialed:
    enter = staticmethod(lambda state, facts: Go("goodbye"))

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        note = Note("dial_outcome", {"number": state.call_numbers[0], "accepted": event.accepted})
        if event.accepted:
            state.reached = state.call_numbers[0]
            return Go("goodbye", notes=(note,))
        return Go("leave_message", (Say("legacy_unreached"),), (note,))


@step("operator")
class Operator:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        if not facts.operator_number:
            return Go(state.resume or "leave_message")
        return (
            Say("connecting_operator"),
            Connect("operator_dialed", facts.operator_number, "operator"),
        )

    answer = staticmethod(lambda state, event, facts: Go("goodbye"))


@step("operator_dialed")
class OperatorDialed:
    enter = staticmethod(lambda state, facts: Go("goodbye"))

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        note = Note("dial_outcome", {"number": facts.operator_number, "accepted": event.accepted})
        if event.accepted:
            state.reached = facts.operator_number
            return Go("goodbye", notes=(note,))
        resume, state.resume = state.resume or "leave_message", None
        return Go(resume, (Say("operator_unavailable"),), (note,))


# --- Messages and the end of the call ---------------------------------------------------------


@step("leave_message")
class LeaveMessage:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (Say("leave_message"), RecordMessage("message_recorded"))

    @staticmethod
    def answer(state: CallState, event: Event, facts: Facts) -> Outcome:
        state.message_seconds = event.seconds
        if event.seconds > 0:
            return Go(
                "goodbye", (Say("message_saved"),), (Note("message", {"seconds": event.seconds}),)
            )
        return Go("goodbye", (Say("no_message"),))


@step("message_recorded")
class MessageRecorded:
    enter = staticmethod(lambda state, facts: Go("goodbye"))
    answer = LeaveMessage.answer


@step("goodbye")
class Goodbye:
    @staticmethod
    def enter(state: CallState, facts: Facts) -> tuple[Instruction, ...] | Go:
        return (Say("goodbye"), Hangup())

    answer = staticmethod(lambda state, event, facts: Go("goodbye"))


# The staff's side registers its steps in the same engine (it needs the names above).
from voice_flows import staff as _staff  # noqa: E402, F401
