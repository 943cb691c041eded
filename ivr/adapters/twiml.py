"""The flows' instructions (`voice_flows.instructions`) as TwiML, with Twilio's library.

The only place that knows TwiML. Every URL Twilio will call back is built on PUBLIC_BASE_URL,
with the conversation's turn in it so that a replayed request is recognised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from ivr.domain.characters import without_forbidden
from ivr.domain.prompts import Prompts
from voice_flows.instructions import (
    Ask,
    Bridge,
    Connect,
    Hangup,
    Instruction,
    PlayRecording,
    RecordMessage,
    Say,
)

LANGUAGE = "fr-FR"
# Recognised better when announced: the danger words, and the answers to our menus.
SPEECH_HINTS = "gaz, odeur de gaz, fumée, incendie, feu, explosion, monoxyde, malaise, oui, non"


def _document(response: VoiceResponse) -> str:
    """The TwiML as sent: never a character XML forbids, wherever it came from (a prompt saved
    before the editor refused them, a name from an old file), or Twilio rejects the answer."""
    return without_forbidden(str(response))


def url(base: str, path: str, **query: object) -> str:
    """An absolute URL of the app, as Twilio must call it."""
    pairs = {k: str(v) for k, v in query.items() if v is not None}
    return f"{base}{path}" + (f"?{urlencode(pairs)}" if pairs else "")


@dataclass(frozen=True)
class Links:
    """Where Twilio posts what comes of one turn of one conversation: the answer to each step
    at `path` (with `{step}` in it), carrying `query` (the turn, the conversation's key)."""

    base: str
    path: str
    query: Mapping[str, object]
    call_sid: str
    attempt: int | None = None  # the dial attempt this turn's `Connect` opened

    def answer(self, step: str, **extra: object) -> str:
        return url(self.base, self.path.format(step=step), **self.query, **extra)

    def callee(self) -> str:
        """The callee's leg of a screened `Connect`: the announcement (voice_flows.whisper)."""
        return url(self.base, "/twilio/voice/whisper", attempt=self.attempt)

    def recording(self, kind: str) -> str:
        return url(self.base, "/twilio/recording", call=self.call_sid, kind=kind)


@dataclass(frozen=True)
class Renderer:
    """Turns instructions into TwiML, with the prompts in force."""

    prompts: Prompts
    base: str  # PUBLIC_BASE_URL
    voice: str
    speech: bool = True
    caller_id: str | None = None  # the out-of-hours number calls are put through from
    gas_number: str = ""  # as read to callers: settings.GAS_EMERGENCY_NUMBER

    def render(
        self, instructions: Iterable[Instruction], links: Links, *, record_bridges: bool = False
    ) -> str:
        """One turn's TwiML. `record_bridges`: a caller's conversation with the person they
        are put through to is recorded (they were told, and did not refuse)."""
        response = VoiceResponse()
        for instruction in instructions:
            if isinstance(instruction, Say):
                self.says((instruction,), response)
            elif isinstance(instruction, Ask):
                self._ask(response, instruction, links)
            elif isinstance(instruction, Connect):
                self._connect(response, instruction, links, record_bridges)
            elif isinstance(instruction, RecordMessage):
                self._record(response, instruction, links)
            elif isinstance(instruction, Hangup):
                response.hangup()
            elif isinstance(instruction, PlayRecording):
                response.play(f"{instruction.url}.mp3")
            elif isinstance(instruction, Bridge):
                pass  # the callee's leg ends here without hanging up: Twilio connects it
        return _document(response)

    def says(self, says: Iterable[Say], into: VoiceResponse | Gather) -> None:
        for say in says:
            audio = self.prompts.audio.get(say.prompt)
            if audio:
                into.play(f"{self.base}/media/prompts/{audio}")
            else:
                text = self.prompts.text(say.prompt, say.values)
                into.say(text, voice=self.voice, language=LANGUAGE)

    def _ask(self, response: VoiceResponse, ask: Ask, links: Links) -> None:
        action = links.answer(ask.step)
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
        self, response: VoiceResponse, connect: Connect, links: Links, record: bool
    ) -> None:
        dial = response.dial(
            action=links.answer(connect.step, attempt=links.attempt),
            method="POST",
            timeout=connect.timeout,
            answer_on_bridge=True,
            caller_id=connect.caller_id or self.caller_id,
            record="record-from-answer-dual" if record else None,
            recording_status_callback=links.recording("call") if record else None,
        )
        if connect.screened:
            dial.number(connect.number, url=links.callee(), method="POST")
        else:
            dial.number(connect.number)

    def _record(self, response: VoiceResponse, record: RecordMessage, links: Links) -> None:
        response.record(
            action=links.answer(record.step),
            method="POST",
            max_length=record.max_seconds,
            finish_on_key="#",
            play_beep=True,
            timeout=8,
            recording_status_callback=links.recording("message"),
            recording_status_callback_event="completed",
        )
        # Twilio goes on here only if the recording could not start: say goodbye.
        response.redirect(links.answer(record.step), method="POST")

    def say_and_hang_up(self, says: Iterable[Say]) -> str:
        response = VoiceResponse()
        self.says(says, response)
        response.hangup()
        return _document(response)

    def emergency(self, forward_to: str | None) -> str:
        """When the app cannot work normally: put the caller through to `forward_to` (not
        taken: what follows without it), or give the emergency numbers and take a message;
        then goodbye. Every URL it leads to needs nothing."""
        response = VoiceResponse()
        goodbye = url(self.base, "/twilio/voice/goodbye")
        if forward_to:
            self.says((Say("emergency_forward"),), response)
            dialed = url(self.base, "/twilio/voice/emergency/dialed")
            response.dial(
                forward_to, action=dialed, method="POST", timeout=25, answer_on_bridge=True
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
                recording_status_callback=url(self.base, "/twilio/recording", kind="emergency"),
                recording_status_callback_event="completed",
            )
        response.redirect(goodbye, method="POST")
        return _document(response)
