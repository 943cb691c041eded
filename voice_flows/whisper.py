"""What the person called hears before a caller is put through to them (call screening): who
needs them, and a key to take the call (`keys.PUT_THROUGH`, as everywhere the staff are put
through to a client). A voicemail box, a person who presses nothing, another key: the call is
not taken, and the caller is never connected to it.

Silence after the announcement ends the leg at once, without a word: it is most often a
voicemail box recording, which must not keep the announcement three times and a goodbye. The
dispatcher's own call leaves the summary on it after its beep (`voice_flows.dispatch_call`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ivr.domain.summary import RequestSummary
from voice_flows import keys
from voice_flows.engine import Entered, Event, Flow, Go, Move, Note, State, Step, key, stray
from voice_flows.instructions import Ask, Bridge, Hangup, Say


class WhisperFacts(Protocol):
    @property
    def role(self) -> str:
        """technician | manager: who is called, so what they are told first."""
        ...

    @property
    def number(self) -> str:
        """The number called."""
        ...

    @property
    def summary(self) -> RequestSummary: ...


@dataclass
class WhisperState(State):
    step: str = "announce"


WhisperStep = Step[WhisperState, WhisperFacts]


def _announce(state: WhisperState, facts: WhisperFacts) -> Entered:
    prompt = "whisper_manager" if facts.role == "manager" else "whisper_technician"
    said = Say(prompt, facts.summary.values(spoken=True))
    return (Ask("announce", (said,), timeout=6, speech=False),)


def _answered(state: WhisperState, event: Event, facts: WhisperFacts) -> Move:
    if event.silent:
        return Go("unanswered", notes=(Note("call_declined", {**_who(facts), "why": "silence"}),))
    pressed = key(event)
    if pressed == keys.PUT_THROUGH:
        return Go("taken", notes=(Note("call_taken", _who(facts)),))
    if pressed == keys.REPEAT:
        return Go("announce")
    return stray()


def _declined(state: WhisperState, facts: WhisperFacts) -> Go:
    return Go("declined", notes=(Note("call_declined", {**_who(facts), "why": "keys"}),))


def _who(facts: WhisperFacts) -> dict[str, str]:
    return {"number": facts.number, "role": facts.role}


STEPS: tuple[WhisperStep, ...] = (
    WhisperStep("announce", _announce, _answered, takes_silence=True),
    WhisperStep("taken", lambda state, facts: (Bridge(),)),
    WhisperStep("unanswered", lambda state, facts: (Hangup(),)),
    WhisperStep("declined", lambda state, facts: (Say("whisper_declined"), Hangup())),
)

flow: Flow[WhisperState, WhisperFacts] = Flow("whisper", WhisperState, STEPS, give_up=_declined)
