"""Instructions of the flows (`voice_flows.instructions`) as TwiML, with Twilio's library.

The only place that knows TwiML. Every URL Twilio will call back is built on
PUBLIC_BASE_URL, with the call's turn in it so that a replayed request is recognised.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import quote_plus, urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.domain.prompts import Prompts
from voice_flows.instructions import (
    Ask,
    Connect,
    Hangup,
    Instruction,
    PlayRecording,
    RecordMessage,
    Say,
    Whisper,
)

LANGUAGE = "fr-FR"
# Recognised better when announced: the danger words, and the answers to our menus.
SPEECH_HINTS = "gaz, odeur de gaz, fumée, incendie, feu, explosion, monoxyde, malaise, oui, non"
# Slots for what is only known after a turn's TwiML is rendered, filled by string
# replacement: random for each process, so that no prompt, name or town can contain one.
# A dial attempt's number is given by the database when the turn is written, after the
# TwiML is rendered (to keep the write short): its URLs carry this slot until then.
_SLOT = f"slot{secrets.token_hex(8)}"
_ATTEMPT_SLOT = f"{_SLOT}a"
# A turn's TwiML depends on its call only through the call's sid and the turn's number, in
# URLs: rendered once per distinct turn with these slots, then filled (`Renderer.turn`).
_CALL_SLOT = f"{_SLOT}c"
_TURN_SLOT = f"{_SLOT}t"


def fill_attempt(twiml: str, attempt: int) -> str:
    """The TwiML of a turn that puts the caller through, with the dial attempt's number."""
    return twiml.replace(_ATTEMPT_SLOT, str(attempt))


@dataclass(frozen=True)
class Urls:
    """The app's webhook URLs, as Twilio must call them."""

    base: str

    def url(self, path: str, **query: object) -> str:
        pairs = {k: str(v) for k, v in query.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(pairs)}" if pairs else "")

    def step(self, step: str, turn: int | str, **query: object) -> str:
        return self.url(f"/twilio/voice/step/{step}", turn=turn, **query)

    def whisper(self, attempt: int | str, **query: object) -> str:
        return self.url("/twilio/voice/whisper", attempt=attempt, **query)

    def recording(self, call_sid: str, kind: str) -> str:
        return self.url("/twilio/recording", call=call_sid, kind=kind)


@dataclass(frozen=True)
class Renderer:
    """Turns instructions into TwiML for one call."""

    prompts: Prompts
    urls: Urls
    voice: str
    speech: bool = True
    caller_id: str | None = None
    record_bridges: bool = False
    media_base: str = ""
    gas_number: str = ""  # as read to callers: settings.GAS_EMERGENCY_NUMBER

    def turn(
        self,
        instructions: Iterable[Instruction],
        *,
        call_sid: str,
        turn: int,
    ) -> str:
        """The TwiML of one turn of the call `call_sid`. The menus are the same for every
        call: each distinct turn is built with Twilio's library once, its slots filled here
        (a dial's attempt is filled when the turn is written: `fill_attempt`)."""
        template = _turn_template(self, tuple(map(_as_rendered, instructions)))
        return template.replace(_TURN_SLOT, str(turn)).replace(_CALL_SLOT, quote_plus(call_sid))

    def _render_turn(self, instructions: tuple[Instruction, ...]) -> str:
        response = VoiceResponse()
        for instruction in instructions:
            self._add(response, instruction, _CALL_SLOT, _TURN_SLOT, _ATTEMPT_SLOT)
        return str(response)

    def says(self, says: Iterable[Say], into: VoiceResponse | Gather) -> None:
        for say in says:
            audio = self.prompts.audio.get(say.prompt)
            if audio:
                into.play(f"{self.media_base}/media/prompts/{audio}")
            else:
                into.say(
                    self.prompts.text(say.prompt, say.values), voice=self.voice, language=LANGUAGE
                )

    def _add(
        self,
        response: VoiceResponse,
        instruction: Instruction,
        call_sid: str,
        turn: str,
        attempt: str,
    ) -> None:
        if isinstance(instruction, Say):
            self.says((instruction,), response)
        elif isinstance(instruction, Ask):
            self._ask(response, instruction, turn)
        elif isinstance(instruction, Connect):
            self._connect(response, instruction, call_sid, turn, attempt)
        elif isinstance(instruction, RecordMessage):
            response.record(
                action=self.urls.step(instruction.step, turn),
                method="POST",
                max_length=instruction.max_seconds,
                finish_on_key="#",
                play_beep=True,
                timeout=8,
                recording_status_callback=self.urls.recording(call_sid, "message"),
                recording_status_callback_event="completed",
            )
            # Twilio goes on here only if the recording could not start: say goodbye.
            response.redirect(self.urls.step(instruction.step, turn), method="POST")
        elif isinstance(instruction, Hangup):
            response.hangup()
        elif isinstance(instruction, PlayRecording):
            response.play(f"{instruction.url}.mp3")

    def _ask(self, response: VoiceResponse, ask: Ask, turn: str) -> None:
        action = self.urls.step(ask.step, turn)
        options: dict[str, object] = {
            "action": action,
            "method": "POST",
            "timeout": ask.timeout,
            "action_on_empty_result": True,
            "language": LANGUAGE,
            "finish_on_key": ask.finish_on_key,
        }
        if ask.max_digits is not None:
            options["num_digits"] = ask.max_digits
        if self.speech and ask.speech:
            options.update(input="dtmf speech", speech_timeout="auto", hints=SPEECH_HINTS)
        else:
            options["input"] = "dtmf"
        gather = response.gather(**options)
        self.says(ask.says, gather)
        # Only reached if Twilio did not post the empty answer: it is a silence all the same.
        response.redirect(action, method="POST")

    def _connect(
        self,
        response: VoiceResponse,
        connect: Connect,
        call_sid: str,
        turn: str,
        attempt: str,
    ) -> None:
        dial = response.dial(
            action=self.urls.step(connect.step, turn, attempt=attempt),
            method="POST",
            timeout=connect.timeout,
            answer_on_bridge=True,
            caller_id=self.caller_id,
            record="record-from-answer-dual" if self.record_bridges else None,
            recording_status_callback=self.urls.recording(call_sid, "call")
            if self.record_bridges
            else None,
        )
        if connect.whisper is not None:
            dial.number(connect.number, url=self.urls.whisper(attempt), method="POST")
        else:
            dial.number(connect.number)

    def whisper(self, says: Iterable[Say], attempt: int, tries: int) -> str:
        """The callee's leg: hear who needs them, press 1 to take the call."""
        action = self.urls.whisper(attempt, stage="answer", tries=tries)
        return self._one_key(says, action, timeout=6)

    def summary_call(self, says: Iterable[Say], menu_url: str | None) -> str:
        """A dispatcher's call: the summary. To a person, with the menu at `menu_url`; to a
        voicemail box (no menu), once, after its beep, then hang up."""
        if menu_url is None:
            return self.say_and_hang_up(says)
        return self._one_key(says, menu_url, timeout=8)

    def _one_key(self, says: Iterable[Say], action: str, timeout: int) -> str:
        """Say `says` while listening for one key; silence is posted to `action` too."""
        response = VoiceResponse()
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=timeout,
            action=action,
            method="POST",
            action_on_empty_result=True,
            finish_on_key="",
        )
        self.says(says, gather)
        response.redirect(action, method="POST")
        return str(response)

    def put_through(self, says: Iterable[Say], number: str, caller_id: str | None) -> str:
        """Bridge the callee of a dispatcher's call to `number`, showing `caller_id`."""
        response = VoiceResponse()
        self.says(says, response)
        response.dial(number, caller_id=caller_id, timeout=25, answer_on_bridge=True)
        return str(response)

    def say_and_hang_up(self, says: Iterable[Say]) -> str:
        response = VoiceResponse()
        self.says(says, response)
        response.hangup()
        return str(response)

    def connected(self) -> str:
        """An empty answer to the whisper: Twilio then bridges the two legs."""
        return str(VoiceResponse())

    def declined(self) -> str:
        return self.say_and_hang_up((Say("whisper_declined"),))

    def emergency(self, forward_to: str | None) -> str:
        """When the app cannot work normally: put the caller through to `forward_to`, or give
        the emergency numbers and take a message; then goodbye, from a URL needing nothing."""
        response = VoiceResponse()
        goodbye = self.urls.url("/twilio/voice/goodbye")
        if forward_to:
            self.says((Say("emergency_forward"),), response)
            response.dial(
                forward_to, action=goodbye, method="POST", timeout=25, answer_on_bridge=True
            )
        else:
            self.says((Say("emergency_advice", {"gas_number": self.gas_number}),), response)
            # The message is reported to the app if it is up by then; it stays in Twilio anyway.
            response.record(
                action=goodbye,
                method="POST",
                max_length=120,
                finish_on_key="#",
                play_beep=True,
                timeout=8,
                recording_status_callback=self.urls.url("/twilio/recording", kind="emergency"),
                recording_status_callback_event="completed",
            )
        response.redirect(goodbye, method="POST")
        return str(response)

    def goodbye(self) -> str:
        return self.say_and_hang_up((Say("goodbye"),))


def _as_rendered(instruction: Instruction) -> Instruction:
    """An instruction as far as its TwiML goes: a dial's whisper is said on the callee's leg
    (`Renderer.whisper`), so its words (the caller's name, fault, number) are left out of the
    turn's cache key, which then serves every call put through to the same number."""
    if isinstance(instruction, Connect) and instruction.whisper is not None:
        return replace(instruction, whisper=Whisper((), instruction.whisper.kind))
    return instruction


@lru_cache(maxsize=1024)
def _turn_template(renderer: Renderer, instructions: tuple[Instruction, ...]) -> str:
    """A turn's TwiML with the call's slots (the prompts in force are part of `renderer`)."""
    return renderer._render_turn(instructions)
