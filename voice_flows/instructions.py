"""What a step asks the phone to do, independent of Twilio.

A turn of a conversation is a tuple of instructions; the last one waits for the person on the
line (`Ask`, `RecordMessage`), puts them through (`Connect`), hands the callee's leg over to
the call it was announced for (`Bridge`) or ends the call (`Hangup`). One adapter turns them
into TwiML (`ivr.adapters.twiml`); the simulator and the tests run the same flows.
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
class Connect:
    """Put the person on the line through to `number`; the outcome goes to `step`.

    `screened`: the callee first hears who needs them (the whisper flow) and must press a key
    to take the call: a voicemail box, a timeout or another key is not a person, and the
    caller is never connected to it. `caller_id`: the number the callee sees, when it is not
    the out-of-hours number the app calls from.
    """

    step: str
    number: str
    role: str  # technician | manager | operator | legacy | client
    screened: bool = False
    timeout: int = 20
    caller_id: str | None = None


@dataclass(frozen=True)
class RecordMessage:
    """Record a message after the beep; the outcome goes to `step`."""

    step: str
    max_seconds: int = 120


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Bridge:
    """The callee took the call: their leg's announcement ends, and Twilio connects them."""


@dataclass(frozen=True)
class PlayRecording:
    """Play a message a caller left (the staff's side: the technician hears it)."""

    url: str


Instruction = Say | Ask | Connect | RecordMessage | Hangup | Bridge | PlayRecording
