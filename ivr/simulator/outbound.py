"""A call the app asked Twilio to place (the dispatcher's, to a technician or a manager),
played from the callee's side."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Literal

from ivr.clock import Clock
from ivr.simulator.dialer import Callee
from ivr.simulator.played import CallStateError, PlayedCall
from ivr.simulator.transports import Transport
from ivr.simulator.twiml import (
    API_VERSION,
    CallClock,
    Ended,
    Gather,
    Line,
    TwimlError,
    Webhooks,
)


class OutboundCall(PlayedCall):
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
        params = {
            "CallSid": sid,
            "AccountSid": account_sid,
            "From": placed.get("From", ""),
            "To": self.to,
            "Direction": "outbound-api",
            "CallStatus": "in-progress",
            "ApiVersion": API_VERSION,
        }
        clock = CallClock(started_at or Clock().now())
        opened = [f"CALL {placed.get('From', '?')} -> {self.to}"]
        line = Line(Webhooks(transport, auth_token, validate), clock, opened)
        # The client, when the callee is put through, answers.
        super().__init__(line, params, lambda _number: Callee(), "completed")
        self._waiting: Gather | None = None
        self._answered_by: str | None = None
        self.ended = False

    @property
    def waiting_for_keys(self) -> bool:
        return self._waiting is not None

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

    def _gather(self) -> Gather:
        if self._waiting is None:
            raise CallStateError("the call waits for no keys")
        return self._waiting

    def _follow(self) -> str:
        self._leg.documents_without_input = 0
        stop = self._leg.run()
        if isinstance(stop, Gather):
            self._waiting = stop
        else:
            self._waiting = None
            if not isinstance(stop, Ended):  # a <Record>; its <Dial>s' callees are scripted
                raise TwimlError(f"{type(stop).__name__} on a dispatcher's call is not simulated")
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
