"""One call leg's TwiML, as Twilio follows it: signed requests to the webhooks, the verbs of
each document until the party on the leg must act (a `<Gather>`, a `<Record>`), and the
simulated seconds that go by. Behaviour taken from Twilio's documentation (`ivr.simulator.phone`
says where it matters)."""

from __future__ import annotations

import math
import secrets
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import TYPE_CHECKING

from twilio.request_validator import RequestValidator

from ivr.simulator.transports import Transport

if TYPE_CHECKING:
    from ivr.simulator.dialer import Dialer

API_VERSION = "2010-04-01"
# A leg that fetches this many documents without any input from its party is looping.
MAX_DOCUMENTS_WITHOUT_INPUT = 50

_SPOKEN_VERBS = frozenset({"Say", "Play", "Pause"})


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


class Webhooks:
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


class CallClock:
    """Simulated seconds since the call started (speech, pauses, timeouts, conversations)."""

    def __init__(self, started: datetime) -> None:
        self.started = started
        self.seconds = 0

    def advance(self, seconds: int) -> None:
        self.seconds += max(0, seconds)

    def timestamp(self) -> str:
        """Now, in the RFC 2822 form of Twilio's `Timestamp` parameter."""
        return format_datetime(self.started + timedelta(seconds=self.seconds))


def text_of(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def int_attr(element: ET.Element, name: str, default: int, url: str) -> int:
    raw = (element.get(name) or "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise TwimlError(f"<{element.tag} {name}={raw!r}> is not an integer", url=url) from None


def bool_attr(element: ET.Element, name: str, default: bool) -> bool:
    raw = (element.get(name) or "").strip().lower()
    return default if not raw else raw == "true"


def url_attr(element: ET.Element, name: str, url: str) -> str | None:
    """An attribute holding a URL, resolved against the current document's URL."""
    raw = (element.get(name) or "").strip()
    return urllib.parse.urljoin(url, raw) if raw else None


def events_attr(element: ET.Element, name: str) -> frozenset[str]:
    return frozenset((element.get(name) or "completed").replace(",", " ").split())


def check_post(element: ET.Element, url: str, attribute: str = "method") -> None:
    method = (element.get(attribute) or "POST").upper()
    if method != "POST":
        raise TwimlError(f"<{element.tag} {attribute}={method!r}>: only POST is simulated", url=url)


@dataclass(frozen=True)
class Gather:
    """A `<Gather>` waiting for input."""

    action: str
    inputs: frozenset[str]
    num_digits: int | None
    finish_on_key: str
    timeout: int
    action_on_empty_result: bool

    @staticmethod
    def parse(verb: ET.Element, url: str) -> Gather:
        check_post(verb, url)
        inputs = frozenset((verb.get("input") or "dtmf").split())
        if not inputs or not inputs <= {"dtmf", "speech"}:
            raise TwimlError(f"<Gather input={verb.get('input')!r}> is not valid", url=url)
        num_digits = int_attr(verb, "numDigits", 0, url)
        return Gather(
            action=url_attr(verb, "action", url) or url,
            inputs=inputs,
            num_digits=num_digits if num_digits > 0 else None,
            finish_on_key=verb.get("finishOnKey", "#"),
            timeout=int_attr(verb, "timeout", 5, url),
            action_on_empty_result=bool_attr(verb, "actionOnEmptyResult", False),
        )

    def digits(self, keys: str) -> str:
        """The `Digits` Twilio submits for these key presses."""
        if self.finish_on_key and self.finish_on_key in keys:
            keys = keys[: keys.index(self.finish_on_key)]
        return keys[: self.num_digits] if self.num_digits else keys


@dataclass(frozen=True)
class Record:
    """A `<Record>` waiting for a message."""

    action: str
    timeout: int
    max_length: int
    play_beep: bool
    status_callback: str | None
    status_events: frozenset[str]

    @staticmethod
    def parse(verb: ET.Element, url: str) -> Record:
        check_post(verb, url)
        if verb.get("recordingStatusCallback"):
            check_post(verb, url, "recordingStatusCallbackMethod")
        return Record(
            action=url_attr(verb, "action", url) or url,
            timeout=int_attr(verb, "timeout", 5, url),
            max_length=int_attr(verb, "maxLength", 3600, url),
            play_beep=bool_attr(verb, "playBeep", True),
            status_callback=url_attr(verb, "recordingStatusCallback", url),
            status_events=events_attr(verb, "recordingStatusCallbackEvent"),
        )


@dataclass(frozen=True)
class Ended:
    """The leg is over: `<Hangup/>` (hung_up) or no verbs left."""

    hung_up: bool


@dataclass(frozen=True)
class Ringing:
    """A `<Dial>` rings phones that a person answers, or not (the simulator's page): it waits
    until each of `numbers` is answered, let ring, or busy."""

    numbers: tuple[str, ...]


@dataclass(frozen=True)
class Whispering:
    """A person answered a `<Dial>`'s `number`: their leg waits for keys at the whisper's
    `gather`."""

    number: str
    gather: Gather


@dataclass(frozen=True)
class Pickup:
    """What a person does at a phone a `<Dial>` rings: `answer`, `voicemail` (lets the box
    answer), `no-answer` (lets it ring), `busy`; once answered, `press` (`keys`), `silence`,
    `hangup`."""

    number: str
    action: str
    keys: str = ""


RING_ACTIONS = frozenset({"answer", "voicemail", "no-answer", "busy"})
WHISPER_ACTIONS = frozenset({"press", "silence", "hangup"})

DialWait = Ringing | Whispering
# A `<Dial>` under way: it yields what it waits for and is sent what the person did; it
# returns the parameters of its action.
DialRun = Generator[DialWait, Pickup, dict[str, str]]
Stop = Gather | Record | Ended | Ringing | Whispering


@dataclass(frozen=True)
class Line:
    """What every leg of one simulated call shares: the webhooks they post to, the simulated
    seconds, the transcript."""

    webhooks: Webhooks
    clock: CallClock
    transcript: list[str]


class Leg:
    """Follows the TwiML of one call leg until its party has to act, or the leg ends."""

    def __init__(
        self, line: Line, params: dict[str, str], dialer: Dialer | None, prefix: str = ""
    ) -> None:
        self.line = line
        self.params = params
        self._dialer = dialer
        self._prefix = prefix  # before each line of the transcript: whose leg it is
        self.url = ""
        self._verbs: list[ET.Element] = []
        self._next = 0
        self.spoken: list[str] = []
        self.documents_without_input = 0
        self._dial: tuple[DialRun, str | None] | None = None  # a <Dial> waiting for a person

    def log(self, line: str) -> None:
        self.line.transcript.append(self._prefix + line)

    def request(self, url: str, extra: Mapping[str, str]) -> None:
        """POST to `url`; the document it answers becomes the one being followed."""
        self.documents_without_input += 1
        if self.documents_without_input > MAX_DOCUMENTS_WITHOUT_INPUT:
            raise TwimlError(
                f"{MAX_DOCUMENTS_WITHOUT_INPUT} documents without any input: a loop?", url=url
            )
        self._verbs = self.line.webhooks.twiml(url, {**self.params, **extra})
        self._next = 0
        self.url = url

    def answer_gather(self, gather: Gather, params: dict[str, str] | None) -> None:
        """Input (`params`) or none (None) at `gather`: post its action or go on."""
        if params is not None or gather.action_on_empty_result:
            self.request(gather.action, params or {})

    def run(self) -> Stop:
        """Follow verbs until a `<Gather>` or `<Record>` waits, or the leg ends."""
        while self._next < len(self._verbs):
            verb = self._verbs[self._next]
            self._next += 1
            if verb.tag in _SPOKEN_VERBS:
                self._speak(verb)
            elif verb.tag == "Gather":
                gather = Gather.parse(verb, self.url)
                for child in verb:
                    if child.tag not in _SPOKEN_VERBS:
                        raise TwimlError(
                            f"<{child.tag}> cannot be nested in <Gather>", url=self.url
                        )
                    self._speak(child)
                return gather
            elif verb.tag == "Record":
                record = Record.parse(verb, self.url)
                if record.play_beep:
                    self.log("IVR beeps")
                return record
            elif verb.tag == "Redirect":
                check_post(verb, self.url)
                target = text_of(verb)
                if not target:
                    raise TwimlError("<Redirect> without a URL", url=self.url)
                self.request(urllib.parse.urljoin(self.url, target), {})
            elif verb.tag == "Hangup":
                self.log("IVR hangs up")
                return Ended(hung_up=True)
            elif verb.tag == "Dial":
                if self._dialer is None:
                    raise TwimlError("<Dial> is not allowed on a dialed leg", url=self.url)
                check_post(verb, self.url)
                self._dial = (self._dialer.dial(verb, self.url), url_attr(verb, "action", self.url))
                waits = self._dial_on(None)
                if waits is not None:
                    return waits
            else:
                raise TwimlError(f"<{verb.tag}> is not simulated", url=self.url)
        return Ended(hung_up=False)

    def pick_up(self, pickup: Pickup) -> Stop:
        """What a person did at a phone the waiting `<Dial>` rings; then on, as `run`."""
        waits = self._dial_on(pickup)
        return waits if waits is not None else self.run()

    def drop_dial(self) -> None:
        """The party hung up while a `<Dial>` waited: it ends, and its action is requested as
        Twilio does, with the call's status `completed`; what the app answers is not followed
        (nobody is left on the line). Twilio does not document the `DialCallStatus` then."""
        if self._dial is None:
            return
        dial, action = self._dial
        dial.close()
        self._dial = None
        if action is not None:
            gone = {"CallStatus": "completed", "DialCallStatus": "no-answer"}
            self.line.webhooks.twiml(action, {**self.params, **gone, "DialCallDuration": "0"})

    def _dial_on(self, pickup: Pickup | None) -> DialWait | None:
        """Run the `<Dial>` under way until it waits for a person (returned) or ends; at its
        end, request its action (the document followed next)."""
        assert self._dial is not None
        dial, action = self._dial
        try:
            return dial.send(pickup) if pickup is not None else next(dial)
        except StopIteration as done:
            self._dial = None
            if action is not None:
                self.request(action, done.value)
            return None

    def _speak(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            text = text_of(verb)
            self.log(f"IVR: {text}")
            self.spoken.append(text)
            self.line.clock.advance(math.ceil(len(text.split()) / 2.5))
        elif verb.tag == "Play":
            digits = verb.get("digits")
            self.log(f"IVR plays DTMF {digits}" if digits else f"IVR plays {text_of(verb)}")
            self.line.clock.advance(3)
        else:
            self.line.clock.advance(int_attr(verb, "length", 1, self.url))
