"""`<Dial>`, as Twilio runs it: the numbers ring, the callees who answer hear their leg's
TwiML (the whisper) and the first who does not hang up is bridged; the dial's outcome goes to
its action, and each leg's status callbacks are posted."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field, replace

from ivr.simulator.twiml import (
    API_VERSION,
    DialRun,
    DialWait,
    Ended,
    Gather,
    Leg,
    Line,
    Pickup,
    Record,
    Ringing,
    TwimlError,
    Whispering,
    check_post,
    events_attr,
    int_attr,
    new_sid,
    text_of,
    url_attr,
)

_CALL_EVENTS = ("initiated", "ringing", "answered", "completed")


@dataclass
class Callee:
    """How a dialed number behaves.

    `keys` are what the callee presses at each `<Gather>` of their leg, in order (`["1"]`,
    `["12#"]`); once they run out, the callee presses nothing. A `voicemail` box answers but never
    presses anything. `talk_seconds` is how long a bridged conversation lasts. A `live` callee
    is a person at the simulator's page: the dial waits for what they do (`PhoneCall.pick_up`).
    """

    answers: bool = True
    busy: bool = False
    fails: bool = False
    voicemail: bool = False
    keys: list[str] = field(default_factory=list)
    talk_seconds: int = 30
    live: bool = False


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


@dataclass
class Dialer:
    """Rings the numbers of a `<Dial>`, runs whispers, bridges; returns the action's params."""

    line: Line
    callee_for: Callable[[str], Callee]
    parent: Mapping[str, str]  # the leg that dials: its sid, account, number
    whisper_hangup_status: str

    def dial(self, verb: ET.Element, url: str) -> DialRun:
        """Ring the numbers, run the whispers, bridge, as Twilio does; return the action's
        parameters. Scripted callees never make it wait; `live` ones ring until a person
        acts for them (`Ringing`, then `Whispering` once answered)."""
        timeout = int_attr(verb, "timeout", 30, url)
        caller_id = verb.get("callerId") or self.parent["From"]
        targets = self._targets(verb, url)
        self.line.transcript.append(
            f"IVR dials {', '.join(t.number for t in targets)} (timeout {timeout} s)"
        )
        attempts = [_Attempt(t, self.callee_for(t.number), new_sid("CA")) for t in targets]
        scripted = [a for a in attempts if not a.callee.live]
        live = [a for a in attempts if a.callee.live]
        for attempt in scripted:
            callee, number = attempt.callee, attempt.target.number
            if callee.fails:
                attempt.status = "failed"
                self.line.transcript.append(f"{number}: the call fails")
            elif callee.busy:
                attempt.status = "busy"
                self.line.transcript.append(f"{number}: busy")
            elif not callee.answers:
                self.line.transcript.append(f"{number}: no answer")
        if (
            not live
            and not any(map(self._answers, attempts))
            and any(a.status == "no-answer" for a in attempts)
        ):
            self.line.clock.advance(timeout)  # rang out
        winner = yield from self._connect(scripted, caller_id, live)
        if winner is None and live:
            winner = yield from self._live(live, caller_id, timeout)
        for attempt in attempts:
            self._leg_callbacks(attempt, caller_id)
        return self._outcome(attempts, winner)

    @staticmethod
    def _answers(attempt: _Attempt) -> bool:
        callee = attempt.callee
        return callee.answers and not callee.busy and not callee.fails

    def _connect(
        self, attempts: list[_Attempt], caller_id: str, also_ringing: list[_Attempt]
    ) -> Generator[DialWait, Pickup, _Attempt | None]:
        """Whispers to the scripted callees who answer, in order; bridges the first who
        accepts (the others, and `also_ringing`, stop ringing)."""
        for index, attempt in enumerate(attempts):
            if self._answers(attempt) and (yield from self._answer(attempt, caller_id)):
                others = [o for o in attempts[index + 1 :] if self._answers(o)]
                self._bridge(attempt, others + also_ringing)
                return attempt
        return None

    def _live(
        self, attempts: list[_Attempt], caller_id: str, timeout: int
    ) -> Generator[DialWait, Pickup, _Attempt | None]:
        """The phones a person answers for ring until each is answered, let ring or busy;
        the first who accepts is bridged. If the caller hangs up meanwhile, they stop."""
        ringing = {a.target.number: a for a in attempts}
        rang_out = False
        try:
            while ringing:
                pickup = yield Ringing(tuple(ringing))
                attempt = ringing.pop(pickup.number)
                if pickup.action in ("no-answer", "busy"):
                    attempt.status = pickup.action
                    said = "busy" if pickup.action == "busy" else "no answer"
                    self.line.transcript.append(f"{pickup.number}: {said}")
                    if pickup.action == "no-answer" and not rang_out:
                        rang_out = True
                        self.line.clock.advance(timeout)
                    continue
                if pickup.action == "voicemail":
                    attempt.callee = replace(attempt.callee, voicemail=True, live=False)
                if (yield from self._answer(attempt, caller_id)):
                    self._bridge(attempt, list(ringing.values()))
                    return attempt
            return None
        except GeneratorExit:
            for number in ringing:
                self.line.transcript.append(f"{number}: stops ringing")
            raise

    def _answer(self, attempt: _Attempt, caller_id: str) -> Generator[DialWait, Pickup, bool]:
        """The callee picks up and hears the whisper; True if they accept the call."""
        attempt.answered = True
        attempt.status = "completed"
        self.line.transcript.append(
            f"{attempt.target.number}: answers"
            + (" (voicemail)" if attempt.callee.voicemail else "")
        )
        started = self.line.clock.seconds
        accepted = attempt.target.url is None or (yield from self._whisper(attempt, caller_id))
        attempt.duration = self.line.clock.seconds - started
        return accepted

    def _bridge(self, attempt: _Attempt, still_ringing: list[_Attempt]) -> None:
        number, talk = attempt.target.number, attempt.callee.talk_seconds
        self.line.transcript.append(f"BRIDGED caller <-> {number}")
        self.line.clock.advance(talk)
        attempt.duration += talk
        self.line.transcript.append(f"{number}: conversation over after {talk} s")
        for other in still_ringing:  # Twilio drops them
            self.line.transcript.append(f"{other.target.number}: stops ringing")

    def _whisper(self, attempt: _Attempt, caller_id: str) -> Generator[DialWait, Pickup, bool]:
        """Run the `<Number url>` TwiML on the callee's leg; True unless it hung up. A live
        callee's keys are asked for at each `<Gather>` (`Whispering`)."""
        number, callee = attempt.target.number, attempt.callee
        assert attempt.target.url is not None
        params = {
            "CallSid": attempt.sid,
            "ParentCallSid": self.parent["CallSid"],
            "AccountSid": self.parent["AccountSid"],
            "From": caller_id,
            "To": number,
            "Caller": caller_id,
            "Called": number,
            "CallStatus": "in-progress",
            "Direction": "outbound-dial",
            "ApiVersion": API_VERSION,
        }
        leg = Leg(self.line, params, None, prefix=f"TECH({number}): ")
        keys = [] if callee.voicemail else list(callee.keys)
        leg.request(attempt.target.url, {})
        while True:
            stop = leg.run()
            if isinstance(stop, Ended):
                return not stop.hung_up
            if isinstance(stop, Record):  # a callee leaves no message: an empty recording
                leg.log("records nothing")
                self.line.clock.advance(stop.timeout)
                continue
            assert isinstance(stop, Gather)  # a whisper's leg has no <Dial>
            if callee.live:
                pickup = yield Whispering(number, stop)
                if pickup.action == "hangup":
                    leg.log("hangs up")
                    return False
                pressed = pickup.keys if pickup.action == "press" else ""
            else:
                pressed = keys.pop(0) if keys else ""
            if pressed and "dtmf" in stop.inputs:
                leg.log(f"presses {pressed}")
                leg.documents_without_input = 0
                digits = stop.digits(pressed)
                leg.answer_gather(stop, {"Digits": digits} if digits else None)
            else:
                leg.log("presses nothing")
                self.line.clock.advance(stop.timeout)
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
                "DialCallStatus": self.whisper_hangup_status,
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
                "ParentCallSid": self.parent["CallSid"],
                "AccountSid": self.parent["AccountSid"],
                "From": caller_id,
                "To": target.number,
                "Caller": caller_id,
                "Called": target.number,
                "CallStatus": statuses[event],
                "Direction": "outbound-dial",
                "ApiVersion": API_VERSION,
                "Timestamp": self.line.clock.timestamp(),
                "CallbackSource": "call-progress-events",
                "SequenceNumber": str(sequence),
            }
            if event == "completed":
                params["CallDuration"] = str(attempt.duration)
            self.line.webhooks.callback(target.status_callback, params)
            sequence += 1

    @staticmethod
    def _targets(verb: ET.Element, url: str) -> list[_Target]:
        children = list(verb)
        if not children:
            number = text_of(verb)
            if not number:
                raise TwimlError("<Dial> without a number", url=url)
            return [_Target(number, None, None, frozenset())]
        targets = []
        for child in children:
            if child.tag != "Number":
                raise TwimlError(f"<Dial><{child.tag}> is not simulated", url=url)
            check_post(child, url)
            if child.get("statusCallback"):
                check_post(child, url, "statusCallbackMethod")
            targets.append(
                _Target(
                    number=text_of(child),
                    url=url_attr(child, "url", url),
                    status_callback=url_attr(child, "statusCallback", url),
                    status_events=events_attr(child, "statusCallbackEvent"),
                )
            )
        return targets


def party_leg(
    line: Line,
    params: dict[str, str],
    callee_for: Callable[[str], Callee],
    whisper_hangup_status: str,
) -> Leg:
    """The leg of the party the simulator plays (the caller, or the callee of a call the app
    placed), able to `<Dial>` others."""
    return Leg(line, params, Dialer(line, callee_for, params, whisper_hangup_status))
