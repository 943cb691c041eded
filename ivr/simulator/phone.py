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
- The `DialCallStatus` that Twilio posts when the callee's whisper hangs up is not documented; the
  simulator posts `whisper_hangup_status` (default `completed`) with `DialCallDuration=0` and no
  `DialBridged`, so that the app has to tell a refused call from a bridged one by `DialBridged`
  (or its own state), never by `DialCallStatus` alone.
"""

from __future__ import annotations

import math
import secrets
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING, Literal, Protocol

from twilio.request_validator import RequestValidator

from ivr.clock import Clock

if TYPE_CHECKING:
    from flask import Flask

API_VERSION = "2010-04-01"
# Where the simulated recordings "are": Twilio's own host, as in real RecordingUrl values.
RECORDINGS_HOST = "https://api.twilio.com"
# A leg that fetches this many documents without any input from its party is looping.
MAX_DOCUMENTS_WITHOUT_INPUT = 50

_KEYS = frozenset("0123456789*#")
_SPOKEN_VERBS = frozenset({"Say", "Play", "Pause"})
_CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


class TwimlError(Exception):
    """A webhook answered with something Twilio could not follow (or did not accept a callback).

    `url`, `status` and `body` describe the offending response; `status` is None when the
    problem is in a document that was received well (a verb the simulator cannot follow).
    """

    def __init__(self, message: str, *, url: str = "", status: int | None = None, body: str = ""):
        detail = f"{message} [{url}" + (f", HTTP {status}" if status is not None else "") + "]"
        if body:
            detail += f"\n{body[:2000]}"
        super().__init__(detail)
        self.url = url
        self.status = status
        self.body = body


class CallStateError(RuntimeError):
    """The caller did something the call cannot take now (keys at a `<Record>`, after its end)."""


# --------------------------------------------------------------------------------------------
# Transports


class Transport(Protocol):
    """How the simulator reaches the webhooks: one form-encoded POST, answered by status + body."""

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST `params` (form-encoded) to the absolute `url`; return (HTTP status, body)."""
        ...


class FlaskTransport:
    """Calls a Flask app in-process through its test client.

    The absolute URL is split into host, path and query string; the query string is passed on
    untouched, so that the app sees the very URL that was signed.
    """

    def __init__(self, app: Flask) -> None:
        self._client = app.test_client()

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST to the app; see `Transport.post`."""
        parts = urllib.parse.urlsplit(url)
        response = self._client.post(
            parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            data=params,
            headers=headers,
        )
        return response.status_code, response.get_data(as_text=True)


class HttpTransport:
    """Calls a server over HTTP(S) with `urllib.request`."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout

    def post(self, url: str, params: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        """POST to the server; see `Transport.post`. HTTP errors come back as a status."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url!r}")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=urllib.parse.urlencode(params).encode(),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                return int(response.status), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Public data


@dataclass
class Callee:
    """How a dialed number behaves.

    `keys` are what the callee presses at each `<Gather>` of their leg, in order (`["1"]`,
    `["12#"]`); once they run out, the callee presses nothing. A `voicemail` box answers but never
    presses anything. `talk_seconds` is how long a bridged conversation lasts.
    """

    answers: bool = True
    busy: bool = False
    fails: bool = False
    voicemail: bool = False
    keys: list[str] = field(default_factory=list)
    talk_seconds: int = 30


@dataclass(frozen=True)
class WebhookRequest:
    """One request the simulator made, and what came back."""

    url: str
    params: dict[str, str]
    status: int
    body: str


def new_sid(prefix: str) -> str:
    """A Twilio-like SID: two letters and 32 hex digits (`CA...`, `RE...`, `AC...`)."""
    return prefix + secrets.token_hex(16)


# --------------------------------------------------------------------------------------------
# Plumbing: signed requests, the simulated clock, verb attributes


class _Webhooks:
    """Signs and sends requests, checks TwiML answers, and logs everything."""

    def __init__(
        self, transport: Transport, auth_token: str, validate: Callable[[str], None] | None
    ) -> None:
        self._transport = transport
        self._signer = RequestValidator(auth_token)
        self._validate = validate
        self.log: list[WebhookRequest] = []

    def post(self, url: str, params: dict[str, str]) -> tuple[int, str]:
        signature: str = self._signer.compute_signature(url, params)
        status, body = self._transport.post(url, dict(params), {"X-Twilio-Signature": signature})
        self.log.append(WebhookRequest(url, dict(params), status, body))
        return status, body

    def twiml(self, url: str, params: dict[str, str]) -> list[ET.Element]:
        """POST and return the verbs of the `<Response>` that came back."""
        status, body = self.post(url, params)
        if status != 200:
            raise TwimlError("TwiML webhook did not answer 200", url=url, status=status, body=body)
        try:
            root = ET.fromstring(body)  # noqa: S314 (documents from the app under test)
        except ET.ParseError as error:
            raise TwimlError(f"not XML: {error}", url=url, status=status, body=body) from error
        if root.tag != "Response":
            raise TwimlError(f"root is <{root.tag}>, not <Response>", url=url, body=body)
        if self._validate is not None:
            self._validate(body)
        return list(root)

    def callback(self, url: str, params: dict[str, str]) -> None:
        """POST a status callback; its body is ignored, as Twilio does, but it must be 2xx."""
        status, body = self.post(url, params)
        if not 200 <= status < 300:
            raise TwimlError("status callback refused", url=url, status=status, body=body)


class _Clock:
    """Simulated seconds since the call started (speech, pauses, timeouts, conversations)."""

    def __init__(self, started: datetime) -> None:
        self.started = started
        self.seconds = 0

    def advance(self, seconds: int) -> None:
        self.seconds += max(0, seconds)

    def timestamp(self) -> str:
        """Now, in the RFC 2822 form of Twilio's `Timestamp` parameter."""
        return format_datetime(self.started + timedelta(seconds=self.seconds))


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _int_attr(element: ET.Element, name: str, default: int, url: str) -> int:
    raw = (element.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise TwimlError(f"<{element.tag} {name}={raw!r}> is not an integer", url=url) from None


def _bool_attr(element: ET.Element, name: str, default: bool) -> bool:
    raw = (element.get(name) or "").strip().lower()
    return default if not raw else raw == "true"


def _url_attr(element: ET.Element, name: str, url: str) -> str | None:
    """An attribute holding a URL, resolved against the current document's URL."""
    raw = (element.get(name) or "").strip()
    return urllib.parse.urljoin(url, raw) if raw else None


def _events_attr(element: ET.Element, name: str) -> frozenset[str]:
    return frozenset((element.get(name) or "completed").replace(",", " ").split())


def _check_post(element: ET.Element, url: str, attribute: str = "method") -> None:
    method = (element.get(attribute) or "POST").upper()
    if method != "POST":
        raise TwimlError(f"<{element.tag} {attribute}={method!r}>: only POST is simulated", url=url)


@dataclass(frozen=True)
class _Gather:
    """A `<Gather>` waiting for input."""

    action: str
    inputs: frozenset[str]
    num_digits: int | None
    finish_on_key: str
    timeout: int
    action_on_empty_result: bool

    @staticmethod
    def parse(verb: ET.Element, url: str) -> _Gather:
        _check_post(verb, url)
        inputs = frozenset((verb.get("input") or "dtmf").split())
        if not inputs or not inputs <= {"dtmf", "speech"}:
            raise TwimlError(f"<Gather input={verb.get('input')!r}> is not valid", url=url)
        num_digits = _int_attr(verb, "numDigits", 0, url)
        return _Gather(
            action=_url_attr(verb, "action", url) or url,
            inputs=inputs,
            num_digits=num_digits if num_digits > 0 else None,
            finish_on_key=verb.get("finishOnKey", "#"),
            timeout=_int_attr(verb, "timeout", 5, url),
            action_on_empty_result=_bool_attr(verb, "actionOnEmptyResult", False),
        )

    def digits(self, keys: str) -> str:
        """The `Digits` Twilio submits for these key presses."""
        if self.finish_on_key and self.finish_on_key in keys:
            keys = keys[: keys.index(self.finish_on_key)]
        return keys[: self.num_digits] if self.num_digits else keys


@dataclass(frozen=True)
class _Record:
    """A `<Record>` waiting for a message."""

    action: str
    timeout: int
    max_length: int
    play_beep: bool
    status_callback: str | None
    status_events: frozenset[str]

    @staticmethod
    def parse(verb: ET.Element, url: str) -> _Record:
        _check_post(verb, url)
        if verb.get("recordingStatusCallback"):
            _check_post(verb, url, "recordingStatusCallbackMethod")
        return _Record(
            action=_url_attr(verb, "action", url) or url,
            timeout=_int_attr(verb, "timeout", 5, url),
            max_length=_int_attr(verb, "maxLength", 3600, url),
            play_beep=_bool_attr(verb, "playBeep", True),
            status_callback=_url_attr(verb, "recordingStatusCallback", url),
            status_events=_events_attr(verb, "recordingStatusCallbackEvent"),
        )


@dataclass(frozen=True)
class _Ended:
    """The leg is over: `<Hangup/>` (hung_up) or no verbs left."""

    hung_up: bool


_Stop = _Gather | _Record | _Ended


# --------------------------------------------------------------------------------------------
# One call leg's TwiML


class _Leg:
    """Follows the TwiML of one call leg until its party has to act, or the leg ends."""

    def __init__(
        self,
        *,
        webhooks: _Webhooks,
        clock: _Clock,
        transcript: list[str],
        prefix: str,
        params: dict[str, str],
        dialer: _Dialer | None,
    ) -> None:
        self._webhooks = webhooks
        self._clock = clock
        self._transcript = transcript
        self._prefix = prefix
        self.params = params
        self._dialer = dialer
        self.url = ""
        self._verbs: list[ET.Element] = []
        self._next = 0
        self.spoken: list[str] = []
        self.documents_without_input = 0

    def log(self, line: str) -> None:
        self._transcript.append(self._prefix + line)

    def request(self, url: str, extra: Mapping[str, str]) -> None:
        """POST to `url`; the document it answers becomes the one being followed."""
        self.documents_without_input += 1
        if self.documents_without_input > MAX_DOCUMENTS_WITHOUT_INPUT:
            raise TwimlError(
                f"{MAX_DOCUMENTS_WITHOUT_INPUT} documents without any input: a loop?", url=url
            )
        self._verbs = self._webhooks.twiml(url, {**self.params, **extra})
        self._next = 0
        self.url = url

    def answer_gather(self, gather: _Gather, params: dict[str, str] | None) -> None:
        """Input (`params`) or none (None) at `gather`: post its action or go on."""
        if params is not None or gather.action_on_empty_result:
            self.request(gather.action, params or {})

    def run(self) -> _Stop:
        """Follow verbs until a `<Gather>` or `<Record>` waits, or the leg ends."""
        while self._next < len(self._verbs):
            verb = self._verbs[self._next]
            self._next += 1
            if verb.tag in _SPOKEN_VERBS:
                self._speak(verb)
            elif verb.tag == "Gather":
                gather = _Gather.parse(verb, self.url)
                for child in verb:
                    if child.tag not in _SPOKEN_VERBS:
                        raise TwimlError(
                            f"<{child.tag}> cannot be nested in <Gather>", url=self.url
                        )
                    self._speak(child)
                return gather
            elif verb.tag == "Record":
                record = _Record.parse(verb, self.url)
                if record.play_beep:
                    self.log("IVR beeps")
                return record
            elif verb.tag == "Redirect":
                _check_post(verb, self.url)
                target = _text(verb)
                if not target:
                    raise TwimlError("<Redirect> without a URL", url=self.url)
                self.request(urllib.parse.urljoin(self.url, target), {})
            elif verb.tag == "Hangup":
                self.log("IVR hangs up")
                return _Ended(hung_up=True)
            elif verb.tag == "Dial":
                if self._dialer is None:
                    raise TwimlError("<Dial> is not allowed on a dialed leg", url=self.url)
                _check_post(verb, self.url)
                action = _url_attr(verb, "action", self.url)
                outcome = self._dialer.dial(verb, self.url)
                if action is not None:
                    self.request(action, outcome)
            else:
                raise TwimlError(f"<{verb.tag}> is not simulated", url=self.url)
        return _Ended(hung_up=False)

    def _speak(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            text = _text(verb)
            self.log(f"IVR: {text}")
            self.spoken.append(text)
            self._clock.advance(math.ceil(len(text.split()) / 2.5))
        elif verb.tag == "Play":
            digits = verb.get("digits")
            self.log(f"IVR plays DTMF {digits}" if digits else f"IVR plays {_text(verb)}")
            self._clock.advance(3)
        else:
            self._clock.advance(_int_attr(verb, "length", 1, self.url))


# --------------------------------------------------------------------------------------------
# <Dial>


@dataclass(frozen=True)
class _Target:
    number: str
    url: str | None
    status_callback: str | None
    status_events: frozenset[str]


@dataclass
class _Attempt:
    target: _Target
    callee: Callee
    sid: str
    status: str = "no-answer"
    answered: bool = False
    duration: int = 0


class _Dialer:
    """Rings the numbers of a `<Dial>`, runs whispers, bridges; returns the action's params."""

    def __init__(
        self,
        *,
        webhooks: _Webhooks,
        clock: _Clock,
        transcript: list[str],
        callee_for: Callable[[str], Callee],
        parent: Mapping[str, str],
        whisper_hangup_status: str,
    ) -> None:
        self._webhooks = webhooks
        self._clock = clock
        self._transcript = transcript
        self._callee_for = callee_for
        self._parent = parent
        self._whisper_hangup_status = whisper_hangup_status

    def dial(self, verb: ET.Element, url: str) -> dict[str, str]:
        timeout = _int_attr(verb, "timeout", 30, url)
        caller_id = verb.get("callerId") or self._parent["From"]
        targets = self._targets(verb, url)
        self._transcript.append(
            f"IVR dials {', '.join(t.number for t in targets)} (timeout {timeout} s)"
        )
        attempts = [_Attempt(t, self._callee_for(t.number), new_sid("CA")) for t in targets]
        for attempt in attempts:
            callee, number = attempt.callee, attempt.target.number
            if callee.fails:
                attempt.status = "failed"
                self._transcript.append(f"{number}: the call fails")
            elif callee.busy:
                attempt.status = "busy"
                self._transcript.append(f"{number}: busy")
            elif not callee.answers:
                self._transcript.append(f"{number}: no answer")
        if not any(map(self._answers, attempts)) and any(a.status == "no-answer" for a in attempts):
            self._clock.advance(timeout)  # rang out
        winner = self._connect(attempts, caller_id)
        for attempt in attempts:
            self._leg_callbacks(attempt, caller_id)
        return self._outcome(attempts, winner)

    @staticmethod
    def _answers(attempt: _Attempt) -> bool:
        callee = attempt.callee
        return callee.answers and not callee.busy and not callee.fails

    def _connect(self, attempts: list[_Attempt], caller_id: str) -> _Attempt | None:
        """Whispers to the callees who answer, in order; bridges the first who accepts."""
        for attempt in attempts:
            if not self._answers(attempt):
                continue
            number = attempt.target.number
            attempt.answered = True
            attempt.status = "completed"
            self._transcript.append(
                f"{number}: answers" + (" (voicemail)" if attempt.callee.voicemail else "")
            )
            started = self._clock.seconds
            accepted = attempt.target.url is None or self._whisper(attempt, caller_id)
            attempt.duration = self._clock.seconds - started
            if accepted:
                self._transcript.append(f"BRIDGED caller <-> {number}")
                self._clock.advance(attempt.callee.talk_seconds)
                attempt.duration += attempt.callee.talk_seconds
                self._transcript.append(
                    f"{number}: conversation over after {attempt.callee.talk_seconds} s"
                )
                for other in attempts[attempts.index(attempt) + 1 :]:
                    if self._answers(other):  # still ringing: Twilio drops it
                        self._transcript.append(f"{other.target.number}: stops ringing")
                return attempt
        return None

    def _whisper(self, attempt: _Attempt, caller_id: str) -> bool:
        """Run the `<Number url>` TwiML on the callee's leg; True unless it hung up."""
        number, callee = attempt.target.number, attempt.callee
        assert attempt.target.url is not None
        leg = _Leg(
            webhooks=self._webhooks,
            clock=self._clock,
            transcript=self._transcript,
            prefix=f"TECH({number}): ",
            params={
                "CallSid": attempt.sid,
                "ParentCallSid": self._parent["CallSid"],
                "AccountSid": self._parent["AccountSid"],
                "From": caller_id,
                "To": number,
                "Caller": caller_id,
                "Called": number,
                "CallStatus": "in-progress",
                "Direction": "outbound-dial",
                "ApiVersion": API_VERSION,
            },
            dialer=None,
        )
        keys = [] if callee.voicemail else list(callee.keys)
        leg.request(attempt.target.url, {})
        while True:
            stop = leg.run()
            if isinstance(stop, _Ended):
                return not stop.hung_up
            if isinstance(stop, _Record):  # a callee leaves no message: an empty recording
                leg.log("records nothing")
                self._clock.advance(stop.timeout)
                continue
            pressed = keys.pop(0) if keys else ""
            if pressed and "dtmf" in stop.inputs:
                leg.log(f"presses {pressed}")
                leg.documents_without_input = 0
                digits = stop.digits(pressed)
                leg.answer_gather(stop, {"Digits": digits} if digits else None)
            else:
                leg.log("presses nothing")
                self._clock.advance(stop.timeout)
                leg.answer_gather(stop, None)

    def _outcome(self, attempts: list[_Attempt], winner: _Attempt | None) -> dict[str, str]:
        if winner is not None:
            return {
                "DialCallStatus": "completed",
                "DialCallSid": winner.sid,
                "DialCallDuration": str(winner.callee.talk_seconds),
                "DialBridged": "true",
            }
        answered = [a for a in attempts if a.answered]
        if answered:
            return {
                "DialCallStatus": self._whisper_hangup_status,
                "DialCallSid": answered[-1].sid,
                "DialCallDuration": "0",
            }
        statuses = {a.status for a in attempts}
        status = next(s for s in ("no-answer", "busy", "failed") if s in statuses)
        sid = next(a.sid for a in attempts if a.status == status)
        return {"DialCallStatus": status, "DialCallSid": sid}

    def _leg_callbacks(self, attempt: _Attempt, caller_id: str) -> None:
        """The `<Number statusCallback>` events asked for (by default only `completed`)."""
        target = attempt.target
        if target.status_callback is None:
            return
        happened = {"initiated", "completed"}
        if attempt.status != "failed":
            happened.add("ringing")
        if attempt.answered:
            happened.add("answered")
        statuses = {
            "initiated": "initiated",
            "ringing": "ringing",
            "answered": "in-progress",
            "completed": attempt.status,
        }
        sequence = 0
        for event in _CALL_EVENTS:
            if event not in happened or event not in target.status_events:
                continue
            params = {
                "CallSid": attempt.sid,
                "ParentCallSid": self._parent["CallSid"],
                "AccountSid": self._parent["AccountSid"],
                "From": caller_id,
                "To": target.number,
                "Caller": caller_id,
                "Called": target.number,
                "CallStatus": statuses[event],
                "Direction": "outbound-dial",
                "ApiVersion": API_VERSION,
                "Timestamp": self._clock.timestamp(),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
            }
            if event == "completed":
                params["CallDuration"] = str(attempt.duration)
            self._webhooks.callback(target.status_callback, params)
            sequence += 1

    @staticmethod
    def _targets(verb: ET.Element, url: str) -> list[_Target]:
        children = list(verb)
        if not children:
            number = _text(verb)
            if not number:
                raise TwimlError("<Dial> without a number", url=url)
            return [_Target(number, None, None, frozenset())]
        targets = []
        for child in children:
            if child.tag != "Number":
                raise TwimlError(f"<Dial><{child.tag}> is not simulated", url=url)
            _check_post(child, url)
            if child.get("statusCallback"):
                _check_post(child, url, "statusCallbackMethod")
            targets.append(
                _Target(
                    number=_text(child),
                    url=_url_attr(child, "url", url),
                    status_callback=_url_attr(child, "statusCallback", url),
                    status_events=_events_attr(child, "statusCallbackEvent"),
                )
            )
        return targets


# --------------------------------------------------------------------------------------------
# The call


def _party_leg(
    webhooks: _Webhooks,
    clock: _Clock,
    transcript: list[str],
    params: dict[str, str],
    callee_for: Callable[[str], Callee],
    whisper_hangup_status: str,
) -> _Leg:
    """The leg of the party the simulator plays (the caller, or the callee of a call the app
    placed), able to `<Dial>` others."""
    dialer = _Dialer(
        webhooks=webhooks,
        clock=clock,
        transcript=transcript,
        callee_for=callee_for,
        parent=params,
        whisper_hangup_status=whisper_hangup_status,
    )
    return _Leg(
        webhooks=webhooks,
        clock=clock,
        transcript=transcript,
        prefix="",
        params=params,
        dialer=dialer,
    )


class PhoneCall:
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
        self.account_sid = account_sid or new_sid("AC")
        self.from_ = from_
        self.to = to
        self._base_url = base_url.rstrip("/")
        self._callees = callees
        self._webhooks = _Webhooks(transport, auth_token, validate)
        self._clock = _Clock(started_at or Clock().now())
        self._transcript: list[str] = []
        self._params = {
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
        self._leg = _party_leg(
            self._webhooks,
            self._clock,
            self._transcript,
            self._params,
            self._callee_for,
            whisper_hangup_status,
        )
        self._waiting: _Gather | _Record | None = None
        self._started = False
        self._ended = False
        self._sequence = 0

    # -- state ---------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        """True once the call is over (and its final status callback posted)."""
        return self._ended

    @property
    def transcript(self) -> list[str]:
        """Everything heard and done so far, one line per event (a copy)."""
        return list(self._transcript)

    @property
    def said_since_last_input(self) -> str:
        """All the words spoken to the caller since their last input, joined by spaces."""
        return " ".join(self._leg.spoken)

    @property
    def waiting_for(self) -> Literal["gather", "record"] | None:
        """What the call waits for from the caller: a `<Gather>`, a `<Record>`, or nothing."""
        if isinstance(self._waiting, _Gather):
            return "gather"
        if isinstance(self._waiting, _Record):
            return "record"
        return None

    @property
    def keys_expected(self) -> tuple[int | None, str] | None:
        """At a `<Gather>` listening to keys: how many it takes, and the key that ends them
        (a phone's keypad sends them all at once when either is reached)."""
        waiting = self._waiting
        if isinstance(waiting, _Gather) and "dtmf" in waiting.inputs:
            return waiting.num_digits, waiting.finish_on_key
        return None

    @property
    def requests(self) -> list[WebhookRequest]:
        """Every request made to the webhooks so far, callbacks included (a copy)."""
        return list(self._webhooks.log)

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
        if not digits or not set(digits) <= _KEYS:
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
        if waiting is None:
            raise CallStateError(self._not_waiting("stay silent"))
        self._input("CALLER stays silent")
        self._clock.advance(waiting.timeout)
        if isinstance(waiting, _Gather):
            self._leg.answer_gather(waiting, None)
        elif waiting.status_callback and "absent" in waiting.status_events:
            self._recording_callback(waiting, new_sid("RE"), 0, "absent")
        return self._follow()

    def leave_message(self, seconds: int = 12) -> str:
        """Speak for `seconds` at a `<Record>`, then stop talking (it ends on silence)."""
        record = self._waiting
        if not isinstance(record, _Record):
            raise CallStateError(self._not_waiting("leave a message", expected="record"))
        if seconds <= 0:
            raise ValueError("a message lasts at least a second; use silence() for none")
        duration = min(seconds, record.max_length)
        self._input(f"CALLER leaves a {duration} s message")
        self._clock.advance(duration + (record.timeout if duration < record.max_length else 0))
        sid = new_sid("RE")
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
        self._finish()

    # -- internals -----------------------------------------------------------------------------

    def _callee_for(self, number: str) -> Callee:
        if self._callees is None:
            return Callee()
        if isinstance(self._callees, Mapping):
            return self._callees.get(number) or Callee()
        return self._callees(number)

    def _gather(self, action: str) -> _Gather:
        if not isinstance(self._waiting, _Gather):
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

    def _follow(self) -> str:
        stop = self._leg.run()
        if isinstance(stop, _Ended):
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

    def _recording_callback(self, record: _Record, sid: str, duration: int, status: str) -> None:
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


# --------------------------------------------------------------------------------------------
# A call the app placed through the REST API, from the callee's side


class OutboundCall:
    """A call the app asked Twilio to place (`Calls.create`), played from the callee's side.

    `placed` is the request's form (`To`, `From`, `Url`, `StatusCallback`, ...). The callee
    answers as a person or lets the voicemail box answer (`answer`), presses keys or stays
    silent at each `<Gather>`, hangs up; or never answers, or is busy (`not_answered`). The
    status callback, with `AnsweredBy` as answering-machine detection would give it, ends it.
    """

    def __init__(
        self,
        transport: Transport,
        auth_token: str,
        placed: Mapping[str, str],
        sid: str,
        account_sid: str,
        validate: Callable[[str], None] | None = None,
        *,
        started_at: datetime | None = None,
    ) -> None:
        self.sid = sid
        self.to = placed["To"]
        self._placed = dict(placed)
        self._webhooks = _Webhooks(transport, auth_token, validate)
        self._clock = _Clock(started_at or Clock().now())
        self._transcript: list[str] = [f"CALL {placed.get('From', '?')} -> {self.to}"]
        self._params = {
            "CallSid": sid,
            "AccountSid": account_sid,
            "From": placed.get("From", ""),
            "To": self.to,
            "Direction": "outbound-api",
            "CallStatus": "in-progress",
            "ApiVersion": API_VERSION,
        }
        # The client, put through by the callee (key 3), answers.
        self._leg = _party_leg(
            self._webhooks,
            self._clock,
            self._transcript,
            self._params,
            lambda _number: Callee(),
            "completed",
        )
        self._waiting: _Gather | None = None
        self._answered_by: str | None = None
        self.ended = False

    @property
    def transcript(self) -> list[str]:
        return list(self._transcript)

    @property
    def said_since_last_input(self) -> str:
        return " ".join(self._leg.spoken)

    @property
    def waiting_for_keys(self) -> bool:
        return self._waiting is not None

    @property
    def requests(self) -> list[WebhookRequest]:
        """Every request made to the webhooks so far, callbacks included (a copy)."""
        return list(self._webhooks.log)

    def answer(self, voicemail: bool = False) -> str:
        """Picked up by a person, or by the voicemail box (after its greeting and beep)."""
        self._answered_by = "machine_end_beep" if voicemail else "human"
        self._transcript.append("VOICEMAIL answers" if voicemail else "CALLEE answers")
        self._leg.request(self._placed["Url"], {"AnsweredBy": self._answered_by})
        return self._follow()

    def press(self, digits: str) -> str:
        gather = self._gather()
        self._leg.spoken.clear()
        self._transcript.append(f"CALLEE presses {digits}")
        keyed = gather.digits(digits)
        self._leg.answer_gather(gather, {"Digits": keyed} if keyed else None)
        return self._follow()

    def silence(self) -> str:
        gather = self._gather()
        self._leg.spoken.clear()
        self._transcript.append("CALLEE stays silent")
        self._clock.advance(gather.timeout)
        self._leg.answer_gather(gather, None)
        return self._follow()

    def hang_up(self) -> None:
        if not self.ended:
            self._transcript.append("CALLEE hangs up")
            self._finish("completed")

    def not_answered(self, status: Literal["no-answer", "busy", "failed"] = "no-answer") -> None:
        """Rang out, busy or failed: only the status callback."""
        self._transcript.append(f"{self.to}: {status}")
        self._finish(status)

    def _gather(self) -> _Gather:
        if self._waiting is None:
            raise CallStateError("the call waits for no keys")
        return self._waiting

    def _follow(self) -> str:
        self._leg.documents_without_input = 0
        stop = self._leg.run()
        if isinstance(stop, _Gather):
            self._waiting = stop
        else:
            self._waiting = None
            if isinstance(stop, _Record):
                raise TwimlError("<Record> on a dispatcher's call is not simulated")
            self._finish("completed")
        return self.said_since_last_input

    def _finish(self, status: str) -> None:
        if self.ended:
            return
        self.ended = True
        self._waiting = None
        callback = self._placed.get("StatusCallback")
        self._transcript.append(f"CALL ENDED ({status})")
        if callback:
            params = {
                **self._params,
                "CallStatus": status,
                "CallDuration": str(self._clock.seconds),
            }
            if self._answered_by:
                params["AnsweredBy"] = self._answered_by
            self._webhooks.callback(callback, params)
