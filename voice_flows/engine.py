"""The step engine every phone conversation runs on: the caller's call, the staff's own call,
the announcement a callee hears before being put through, the dispatcher's call.

A flow is a set of named steps. A step says what it asks when the conversation enters it
(`enter`: instructions for the phone, or a `Go` to another step when it decides without
asking) and where each answer leads (`answer`: a `Go`, an `Again`, or a `Handoff` to another
flow). A silence or a stray key is answered, shorter, and the question asked again; after the
third miss in a step its `give_up` leads on: never silence. A flow may also bound how often
a question is asked in one call (`max_visits`): past it, the step's `give_up` leads on (else
the flow's), as after three misses, so a caller going round in circles is never kept there.

`Flow.next_step` moves a conversation on by one turn, from its state and what happened. It
knows no Twilio and no database: what it needs of the world comes through the flow's facts,
and what it decides comes back as instructions (`voice_flows.instructions`) and notes for the
trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Generic, Self, TypeVar

from ivr.domain.triage import fold, spoken_digits
from voice_flows import keys
from voice_flows.instructions import Ask, Connect, Instruction, RecordMessage, Say

MAX_MISSES = 3
MAX_HOPS = 20  # steps entered in one turn without asking anything: more is a loop


@dataclass
class State:
    """What a flow remembers between two webhooks (stored with its conversation). Each flow
    adds its own fields: plain values, or lists and dicts of plain values."""

    step: str = ""
    misses: int = 0
    visits: dict[str, int] = field(default_factory=dict)  # questions asked, by step

    def to_dict(self) -> dict[str, Any]:
        return {name: _copied(value) for name, value in vars(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        fields = cls.__dataclass_fields__
        return cls(**{name: _copied(value) for name, value in data.items() if name in fields})


def _copied(value: Any) -> Any:
    """A field for a new owner: a list or a dict is copied, so a state never shares one."""
    if isinstance(value, list):
        return list(value)
    return dict(value) if isinstance(value, dict) else value


@dataclass(frozen=True)
class Event:
    """What happened since the last turn: the person answered (keys or words; neither is
    silence), a call we put them through ended, or a message was recorded."""

    kind: str  # input | dialed | recorded
    digits: str = ""
    speech: str = ""
    confidence: float | None = None
    accepted: bool = False  # dialed: a person took the call
    caller_gone: bool = False  # dialed: the caller hung up meanwhile (its outcome still comes)
    seconds: int = 0  # recorded: length of the message

    @property
    def silent(self) -> bool:
        return not self.digits and not self.speech.strip()


@dataclass(frozen=True)
class Note:
    """A fact for the trace: what was chosen, decided or reported, and why."""

    kind: str
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What to do now: instructions for the phone, notes for the trace; or, with `handoff`,
    the conversation goes on in that other flow."""

    instructions: tuple[Instruction, ...]
    notes: tuple[Note, ...] = ()
    handoff: str | None = None


@dataclass(frozen=True)
class Go:
    """Move to `step`, saying `says` first."""

    step: str
    says: tuple[Say, ...] = ()
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Again:
    """Ask the same step again, after `says` (a stray key, an unknown number). A miss unless
    `miss` is False."""

    says: tuple[Say, ...] = ()
    notes: tuple[Note, ...] = ()
    miss: bool = True


@dataclass(frozen=True)
class Handoff:
    """The conversation goes on in flow `flow` (a technician who keyed * at the caller's
    first question): its first step answers this turn."""

    flow: str
    notes: tuple[Note, ...] = ()
    says: tuple[Say, ...] = ()  # said first, before that flow's first question


Move = Go | Again | Handoff
S = TypeVar("S", bound=State)
F = TypeVar("F")
Entered = tuple[Instruction, ...] | Go
Enter = Callable[[S, F], Entered]
Answer = Callable[[S, Event, F], Move]
GiveUp = Callable[[S, F], Go]


@dataclass(frozen=True)
class Step(Generic[S, F]):
    """One step of a flow. Without `enter`, the step only waits for an outcome that another
    step's instruction named (a dial's, a message's); without `answer`, it never asks."""

    name: str
    enter: Enter[S, F] | None = None
    answer: Answer[S, F] | None = None
    # Where a person who keeps not answering goes after the third miss (else the flow's).
    give_up: GiveUp[S, F] | None = None
    takes_silence: bool = False  # silence (or a lone #) is an answer here, not a miss
    global_keys: bool = True  # the flow's keys for every menu work here (the danger key)


Intercept = Callable[[S, Event, F, Step[S, F]], Move | None]


class Flow(Generic[S, F]):
    """A conversation's steps, and the one function that moves it on."""

    def __init__(
        self,
        name: str,
        state: type[S],
        steps: Iterable[Step[S, F]],
        *,
        give_up: GiveUp[S, F],
        intercept: Intercept[S, F] | None = None,
        max_visits: int | None = None,
    ) -> None:
        self.name = name
        self.state = state  # what the flow remembers, as stored with its conversation
        self.steps = {step.name: step for step in steps}
        self.give_up = give_up  # after three misses in a step that names no way of its own
        self.intercept = intercept  # keys heard at every menu, before the step's own
        self.max_visits = max_visits  # how often one question may be asked in a conversation

    def start(self, state: S, facts: F, says: tuple[Say, ...] = ()) -> tuple[S, Reply]:
        """The conversation begins (`says` first, from the flow that handed it over): enter
        the state's step."""
        state = type(state).from_dict(state.to_dict())
        return self._enter(state, state.step, facts, says, ())

    def next_step(self, state: S, event: Event, facts: F) -> tuple[S, Reply]:
        """From a state and what happened, the next turn."""
        state = type(state).from_dict(state.to_dict())
        current = self.steps[state.step]
        move = self._intercepted(state, event, facts, current) or _answer(
            state, event, facts, current
        )
        if isinstance(move, Handoff):
            return state, Reply(move.says, move.notes, handoff=move.flow)
        if isinstance(move, Go):
            return self._enter(state, move.step, facts, move.says, move.notes)
        state.misses += move.miss
        if state.misses >= MAX_MISSES:
            way = (current.give_up or self.give_up)(state, facts)
            gave_up = Note("gave_up", {"step": current.name})
            return self._enter(
                state, way.step, facts, move.says + way.says, (*move.notes, gave_up, *way.notes)
            )
        asked = _entered(current, state, facts)
        if isinstance(asked, Go):
            raise RuntimeError(f"step {current.name} cannot be asked again")
        return state, Reply(_prefix(move.says, asked), move.notes)

    def _intercepted(self, state: S, event: Event, facts: F, current: Step[S, F]) -> Move | None:
        if self.intercept is None or event.kind != "input" or not current.global_keys:
            return None
        return self.intercept(state, event, facts, current)

    def _enter(
        self, state: S, name: str, facts: F, says: tuple[Say, ...], notes: tuple[Note, ...]
    ) -> tuple[S, Reply]:
        """Enter step `name`, following the steps that decide by themselves."""
        for _ in range(MAX_HOPS):
            if name != state.step:
                state.misses = 0
            state.step = name
            entered = _entered(self.steps[name], state, facts)
            if isinstance(entered, Go):
                says, notes, name = says + entered.says, notes + entered.notes, entered.step
                continue
            if self._visited_too_often(state, name, entered):
                way = (self.steps[name].give_up or self.give_up)(state, facts)
                notes += (Note("visit_limit", {"step": name}), *way.notes)
                says, name = says + way.says, way.step
                continue
            # The answer goes to the step the waiting instruction names (a dial's outcome to
            # the step that follows it, a message to the one that keeps it).
            state.step = next(
                (i.step for i in entered if isinstance(i, Ask | Connect | RecordMessage)),
                state.step,
            )
            return state, Reply(_prefix(says, entered), notes)
        raise RuntimeError(f"flow {self.name} loops from step {name}")

    def _visited_too_often(self, state: S, name: str, entered: tuple[Instruction, ...]) -> bool:
        """Count a question asked on entering its step; True past the flow's bound."""
        if self.max_visits is None or not any(isinstance(i, Ask) for i in entered):
            return False
        state.visits[name] = state.visits.get(name, 0) + 1
        return state.visits[name] > self.max_visits


def _entered(step: Step[S, F], state: S, facts: F) -> Entered:
    if step.enter is None:
        raise RuntimeError(f"step {step.name} waits for an outcome: nothing leads into it")
    return step.enter(state, facts)


def _answer(state: S, event: Event, facts: F, current: Step[S, F]) -> Move:
    if current.answer is None:
        raise RuntimeError(f"step {current.name} asks nothing: nothing answers it")
    if event.kind == "input" and event.silent and not current.takes_silence:
        return Again((Say("no_input"),), (Note("silence", {"step": current.name}),))
    return current.answer(state, event, facts)


def _prefix(
    says: tuple[Say, ...], instructions: tuple[Instruction, ...]
) -> tuple[Instruction, ...]:
    """Say `says` first: inside the first question when there is one, so that a key cuts it
    short; what may not be cut (safety instructions) before it."""
    if says and instructions and isinstance(instructions[0], Ask):
        first = instructions[0]
        cut = max((i + 1 for i, say in enumerate(says) if not say.interruptible), default=0)
        return (*says[:cut], replace(first, says=says[cut:] + first.says), *instructions[1:])
    return (*says, *instructions)


# --- Reading an answer ------------------------------------------------------------------------

_SPOKEN_ANSWERS = {"oui": keys.YES, "non": keys.NO}
T = TypeVar("T")


def key(event: Event) -> str:
    """The key pressed (a trailing # dropped) or said."""
    return event.digits.rstrip(keys.FINISH) or _spoken_key(event.speech)


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


def choice(event: Event, options: Mapping[str, T]) -> T | None:
    """The option a key (or its spoken word) picks, or None."""
    return options.get(key(event)[:1])


def yes_no(event: Event) -> bool | None:
    """1 (« oui ») or 2 (« non »); None for anything else."""
    return choice(event, {keys.YES: True, keys.NO: False})


def chosen(options: Mapping[str, StrEnum], field: str, then: str) -> Answer[Any, Any]:
    """An answer that picks one of `options` by key: kept in the state's `field`, traced
    under that name, then on to `then`."""

    def answer(state: Any, event: Event, facts: Any) -> Move:
        picked = choice(event, options)
        if picked is None:
            return stray()
        setattr(state, field, picked.value)
        return Go(then, notes=(Note(field, {field: picked.value}),))

    return answer


def stray() -> Again:
    """A key the question does not offer."""
    return Again((Say("invalid_key"),))


def to(step: str) -> Callable[[Any, Any], Go]:
    """A way on that needs nothing: to `step`."""
    return lambda _state, _facts: Go(step)
