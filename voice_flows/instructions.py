"""What a step asks the phone to do, independent of Twilio.

A turn of the call is a tuple of instructions; the last one waits for the caller (`Ask`,
`RecordMessage`), connects them (`Connect`) or ends the call (`Hangup`). One adapter turns
them into TwiML (`ivr.adapters.twiml`); the simulator and the tests run the same flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    """A named prompt (its words are data, edited by administrators), with its values."""

    prompt: str
    values: Mapping[str, str] = field(default_factory=dict)
    # False: played in full even before a question (safety instructions): a key cannot cut it.
    interruptible: bool = True

    def __hash__(self) -> int:  # turns are hashable (rendered once each): values by content
        return hash((self.prompt, frozenset(self.values.items()), self.interruptible))


@dataclass(frozen=True)
class Ask:
    """Wait for keys (or words) while the prompts play; the answer goes to `step`."""

    step: str
    says: tuple[Say, ...]
    max_digits: int | None = 1  # None: up to the finish key
    finish_on_key: str = ""
    speech: bool = True
    timeout: int = 6


@dataclass(frozen=True)
class Whisper:
    """What the callee hears before being connected, and the key that takes the call."""

    says: tuple[Say, ...]
    kind: str  # "technician" | "manager"


@dataclass(frozen=True)
class Connect:
    """Put the caller through to `number`; the outcome goes to `step`.

    With a whisper, the callee must press a key to take the call: a voicemail box, a
    timeout or another key is not a person, and the caller is never connected to it.
    """

    step: str
    number: str
    role: str  # technician | manager | operator | legacy | emergency
    whisper: Whisper | None = None
    timeout: int = 20


@dataclass(frozen=True)
class RecordMessage:
    """Record a message after the beep; the outcome goes to `step`."""

    step: str
    max_seconds: int = 120


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class PlayRecording:
    """Play a message a caller left (the staff's side: the technician hears it)."""

    url: str


Instruction = Say | Ask | Connect | RecordMessage | Hangup | PlayRecording
