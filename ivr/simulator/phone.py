"""A Twilio stand-in: places a call into the IVR's webhooks and follows the TwiML it gets back.

`PhoneCall` posts to the webhooks exactly as Twilio does (same parameters, same
`X-Twilio-Signature`), follows the verbs of each document and stops whenever the caller has to
act (a `<Gather>` or a `<Record>`). The test, or a person at a browser phone, then acts through
`press`, `say`, `silence`, `leave_message` or `hang_up`. A `<Dial>` rings `Callee`s, runs the
whisper (`<Number url>`) on their leg with the keys they are scripted to press, and bridges or not
as Twilio would. Everything heard and done is kept as a transcript:

    IVR: Bonjour, ...
    CALLER presses 1
    IVR dials +33611111111 (timeout 20 s)
    +33611111111 answers
    TECH(+33611111111): IVR: Appel urgent, appuyez sur 1
    TECH(+33611111111): presses 1
    BRIDGED caller <-> +33611111111

Behaviour taken from Twilio's documentation, where it matters to a test:
- `<Gather>` without input goes on to the next verb, unless `actionOnEmptyResult="true"`, which
  posts the action with no `Digits`; the default action is the current document's URL.
- `<Record>` that records nothing (the caller stays silent) requests no action and no recording
  callback: "if Twilio receives an empty recording, it will not make a request to the action URL;
  the current call flow will continue with the next verb in the current TwiML document".
- `<Dial>` with several `<Number>`s rings them at once; the first to answer is connected. The
  simulator plays the answering callees' whispers in document order; the first whisper that ends
  without `<Hangup>` is bridged and the others are dropped.
- A `<Dial>` whose callee is `live` (a person at the simulator's page) waits: `waiting_for` is
  `transfer` until `pick_up` says what the person did at the ringing phone, then at each
  question of the whisper. A caller who hangs up meanwhile ends it; its action is requested
  as Twilio does, with `CallStatus=completed` (and `DialCallStatus=no-answer`, the simulator's
  choice: Twilio does not document it then), before the call's final status callback.
- The `DialCallStatus` that Twilio posts when the callee's whisper hangs up is not documented; the
  simulator posts `whisper_hangup_status` (default `completed`) with `DialCallDuration=0` and no
  `DialBridged`, so that the app has to tell a refused call from a bridged one by `DialBridged`
  (or its own state), never by `DialCallStatus` alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from ivr.clock import Clock
from ivr.simulator.dialer import Callee
from ivr.simulator.outbound import OutboundCall
from ivr.simulator.played import KEYS, CallStateError, PlayedCall
from ivr.simulator.transports import Transport
from ivr.simulator.twiml import (
    API_VERSION,
    RING_ACTIONS,
    WHISPER_ACTIONS,
    CallClock,
    DialWait,
    Ended,
    Gather,
    Line,
    Pickup,
    Record,
    Ringing,
    Stop,
    Webhooks,
    Whispering,
    new_sid,
)

__all__ = ["ACCOUNT", "CallStateError", "OutboundCall", "PhoneCall"]

# Where the simulated recordings "are": Twilio's own host, as in real RecordingUrl values.
RECORDINGS_HOST = "https://api.twilio.com"
# The Twilio account a simulated call belongs to, unless told: the app checks that a webhook
# is its own account's (TWILIO_ACCOUNT_SID).
ACCOUNT = "AC" + "0" * 32


class PhoneCall(PlayedCall):
    """One inbound call, placed into `{base_url}/twilio/voice` as Twilio does.

    `callees` says how dialed numbers behave: a mapping (numbers not in it answer and press
    nothing) or a function of the number. `validate`, when given, is called on every TwiML body
    (caller and callee legs) before it is followed, e.g. `twiml_schema.validate`.

    The input methods (`start`, `press`, `say`, `silence`, `leave_message`) return
    `said_since_last_input`: what the caller heard in answer. `started_at` is when the call
    starts on the program's clock (the demo's simulated time); by default, `Clock().now()`.
    """

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        auth_token: str,
        from_: str = "+33639981001",
        to: str = "+33199000000",
        callees: Mapping[str, Callee] | Callable[[str], Callee] | None = None,
        account_sid: str | None = None,
        validate: Callable[[str], None] | None = None,
        *,
        whisper_hangup_status: str = "completed",
        started_at: datetime | None = None,
    ) -> None:
        self.call_sid = new_sid("CA")
        self.account_sid = account_sid or ACCOUNT
        self.from_ = from_
        self.to = to
        self._base_url = base_url.rstrip("/")
        self._callees = callees
        params = {
            "CallSid": self.call_sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "To": to,
            "Caller": from_,
            "Called": to,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "ApiVersion": API_VERSION,
        }
        clock = CallClock(started_at or Clock().now())
        line = Line(Webhooks(transport, auth_token, validate), clock, [])
        super().__init__(line, params, self._callee_for, whisper_hangup_status)
        self._waiting: Gather | Record | DialWait | None = None
        # The messages left, as Twilio's REST API lists them (it keeps them, whether their
        # callback was taken or not).
        self.recordings: list[dict[str, str]] = []
        self._started = False
        self._ended = False
        self._sequence = 0

    # -- state ---------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """True once the call is over (and its final status callback posted)."""
        return self._ended

    @property
    def waiting_for(self) -> Literal["gather", "record", "transfer"] | None:
        """What the call waits for: the caller at a `<Gather>` or a `<Record>`, a person at a
        phone its `<Dial>` rings (`transfer`), or nothing."""
        if isinstance(self._waiting, Gather):
            return "gather"
        if isinstance(self._waiting, Record):
            return "record"
        if isinstance(self._waiting, Ringing | Whispering):
            return "transfer"
        return None

    @property
    def inputs(self) -> frozenset[str]:
        """What the `<Gather>` the caller is at listens to (`dtmf`, `speech`); else none."""
        return self._waiting.inputs if isinstance(self._waiting, Gather) else frozenset()

    @property
    def transfer(self) -> Ringing | Whispering | None:
        """While the caller is being put through to a live callee: the phones ringing, or the
        question of the whisper the person who answered is at."""
        return self._waiting if isinstance(self._waiting, Ringing | Whispering) else None

    @property
    def keys_expected(self) -> tuple[int | None, str] | None:
        """At a `<Gather>` listening to keys: how many it takes, and the key that ends them
        (a phone's keypad sends them all at once when either is reached)."""
        waiting = self._waiting
        if isinstance(waiting, Gather) and "dtmf" in waiting.inputs:
            return waiting.num_digits, waiting.finish_on_key
        return None

    @property
    def duration(self) -> int:
        """Simulated seconds since the call started."""
        return self._clock.seconds

    # -- the caller's actions ------------------------------------------------------------------

    def start(self) -> str:
        """Ring the IVR ("A call comes in") and follow its TwiML until the caller must act."""
        if self._started:
            raise CallStateError("the call has already started")
        self._started = True
        self._transcript.append(f"CALL {self.from_} -> {self.to}")
        self._leg.request(f"{self._base_url}/twilio/voice", {})
        self._params["CallStatus"] = "in-progress"
        return self._follow()

    def press(self, digits: str) -> str:
        """Press keys at a `<Gather>`.

        The `<Gather>`'s finish key (`#` by default) ends the input and is not sent; keys beyond
        `numDigits` are dropped. Nothing left to send (a lone `#`) counts as no input.
        """
        gather = self._gather("press keys")
        if not digits or not set(digits) <= KEYS:
            raise ValueError(f"not phone keys: {digits!r}")
        if "dtmf" not in gather.inputs:
            raise CallStateError("this <Gather> only listens to speech")
        self._input(f"CALLER presses {digits}")
        keyed = gather.digits(digits)
        self._leg.answer_gather(gather, {"Digits": keyed} if keyed else None)
        return self._follow()

    def say(self, text: str, confidence: float = 0.9) -> str:
        """Speak at a `<Gather>` that listens to speech."""
        gather = self._gather("speak")
        if not text.strip():
            raise ValueError("say() needs words; use silence() for none")
        if "speech" not in gather.inputs:
            raise CallStateError("this <Gather> only listens to keys")
        self._input(f'CALLER says "{text}"')
        self._clock.advance(math.ceil(len(text.split()) / 2.5))
        self._leg.answer_gather(gather, {"SpeechResult": text, "Confidence": str(confidence)})
        return self._follow()

    def silence(self) -> str:
        """Do nothing: the `<Gather>` times out, or the `<Record>` records nothing."""
        waiting = self._waiting
        if not isinstance(waiting, Gather | Record):
            raise CallStateError(self._not_waiting("stay silent"))
        self._input("CALLER stays silent")
        self._clock.advance(waiting.timeout)
        if isinstance(waiting, Gather):
            self._leg.answer_gather(waiting, None)
        elif waiting.status_callback and "absent" in waiting.status_events:
            self._recording_callback(waiting, new_sid("RE"), 0, "absent")
        return self._follow()

    def leave_message(self, seconds: int = 12) -> str:
        """Speak for `seconds` at a `<Record>`, then stop talking (it ends on silence)."""
        record = self._waiting
        if not isinstance(record, Record):
            raise CallStateError(self._not_waiting("leave a message", expected="record"))
        if seconds <= 0:
            raise ValueError("a message lasts at least a second; use silence() for none")
        duration = min(seconds, record.max_length)
        self._input(f"CALLER leaves a {duration} s message")
        self._clock.advance(duration + (record.timeout if duration < record.max_length else 0))
        sid = new_sid("RE")
        self.recordings.append(
            {
                "sid": sid,
                "call_sid": self.call_sid,
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}.json",
                "duration": str(duration),
                "status": "completed",
                "source": "RecordVerb",
                "date_created": self._clock.timestamp(),
            }
        )
        self._leg.request(
            record.action,
            {
                "RecordingUrl": self._recording_url(sid),
                "RecordingSid": sid,
                "RecordingDuration": str(duration),
            },
        )
        if record.status_callback and "completed" in record.status_events:
            self._recording_callback(record, sid, duration, "completed")
        return self._follow()

    def pick_up(self, number: str, action: str, keys: str = "") -> str:
        """A person at a phone the call's `<Dial>` rings (`transfer`): `answer`, `voicemail`,
        `no-answer` or `busy` while it rings; then `press` keys, `silence` or `hangup` at each
        question of the whisper. Returns what the caller heard since."""
        waiting = self.transfer
        if waiting is None:
            raise CallStateError(self._not_waiting("pick up", expected="transfer"))
        if isinstance(waiting, Ringing):
            if number not in waiting.numbers:
                raise CallStateError(f"{number} is not ringing")
            if action not in RING_ACTIONS:
                raise ValueError(f"a ringing phone cannot {action!r}")
        else:
            if number != waiting.number:
                raise CallStateError(f"{number} is not on the line")
            if action not in WHISPER_ACTIONS:
                raise ValueError(f"an answered phone cannot {action!r}")
            if action == "press" and (not keys or not set(keys) <= KEYS):
                raise ValueError(f"not phone keys: {keys!r}")
        self._waiting = None
        self._leg.spoken.clear()
        return self._follow(self._leg.pick_up(Pickup(number, action, keys)))

    def ask_again(self) -> str:
        """Twilio sends the last request of the call again (as it does when no answer came
        back in time, or the connection dropped), and follows the new answer."""
        last = next(r for r in reversed(self._webhooks.log) if "/twilio/voice" in r.url)
        self._transcript.append("TWILIO asks again")
        self._input_done()
        self._leg.request(last.url, last.params)
        return self._follow()

    def hang_up(self) -> None:
        """The caller hangs up: nothing more is followed; the final status callback is posted."""
        if self._ended:
            return
        if not self._started:
            raise CallStateError("the call has not started")
        self._transcript.append("CALLER hangs up")
        self._leg.drop_dial()
        self._finish()

    # -- internals -----------------------------------------------------------------------------

    def _callee_for(self, number: str) -> Callee:
        if self._callees is None:
            return Callee()
        if isinstance(self._callees, Mapping):
            return self._callees.get(number) or Callee()
        return self._callees(number)

    def _gather(self, action: str) -> Gather:
        if not isinstance(self._waiting, Gather):
            raise CallStateError(self._not_waiting(action, expected="gather"))
        return self._waiting

    def _not_waiting(self, action: str, expected: str | None = None) -> str:
        if self._ended:
            return f"cannot {action}: the call has ended"
        if not self._started:
            return f"cannot {action}: the call has not started"
        return f"cannot {action}: the call waits for {self.waiting_for}, not {expected}"

    def _input(self, line: str) -> None:
        self._transcript.append(line)
        self._input_done()

    def _input_done(self) -> None:
        self._leg.spoken.clear()
        self._leg.documents_without_input = 0
        self._waiting = None

    def _follow(self, stop: Stop | None = None) -> str:
        stop = self._leg.run() if stop is None else stop
        if isinstance(stop, Ended):
            self._finish()
        else:
            self._waiting = stop
        return self.said_since_last_input

    def _finish(self) -> None:
        self._ended = True
        self._waiting = None
        self._transcript.append(f"CALL ENDED after {self._clock.seconds} s")
        params = {
            **self._params,
            "CallStatus": "completed",
            "CallDuration": str(self._clock.seconds),
            "SequenceNumber": str(self._sequence),
            "Timestamp": self._clock.timestamp(),
            "CallbackSource": "call-progress-events",
        }
        self._sequence += 1
        self._webhooks.callback(f"{self._base_url}/twilio/status", params)

    def _recording_url(self, sid: str) -> str:
        return f"{RECORDINGS_HOST}/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{sid}"

    def _recording_callback(self, record: Record, sid: str, duration: int, status: str) -> None:
        assert record.status_callback is not None
        params = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "RecordingSid": sid,
            "RecordingStatus": status,
            "RecordingDuration": str(duration),
            "RecordingChannels": "1",
            "RecordingSource": "RecordVerb",
        }
        if status == "absent":
            params["ErrorCode"] = "16102"  # "Recording is silent", as Twilio reports it
        else:
            params["RecordingUrl"] = self._recording_url(sid)
        self._webhooks.callback(record.status_callback, params)
