"""The dispatcher's calls, once answered: what a technician or a manager hears and keys.

A person hears the summary and a menu: 1 to hear it again, 2 to take the request in hand,
3 to be put through to the client now (who sees the out-of-hours number). A voicemail box
hears the summary once, after its beep (the source's "message left on the voicemail").
"""

from __future__ import annotations

from ivr.adapters.twiml import Renderer
from ivr.services.dispatch import Dispatcher, Request
from voice_flows.instructions import Say
from voice_flows.staff import OUTCOMES  # the same keys as on the staff's side of the number

REPEAT, ACKNOWLEDGE, PUT_THROUGH, REPORT = "1", "2", "3", "4"
MAX_TRIES = 3  # silences or stray keys before saying goodbye


class OutboundCalls:
    def __init__(self, dispatcher: Dispatcher, renderer: Renderer) -> None:
        self.dispatcher = dispatcher
        self.renderer = renderer

    def answer(self, job_id: int, answered_by: str | None) -> str:
        """The callee answered (Twilio's AnsweredBy tells a person from a voicemail box)."""
        found = self.dispatcher.request_of_job(job_id)
        if found is None:
            return self.renderer.say_and_hang_up((Say("technical_problem"),))
        row, request = found
        says = self._summary(row.payload, request)
        if answered_by and answered_by.startswith(("machine", "fax")):
            self.dispatcher.note(job_id, "voicemail_message_left", {"answered_by": answered_by})
            return self.renderer.summary_call(says, None)
        return self.renderer.summary_call((*says, Say("outbound_menu")), self._menu(job_id, 1))

    def menu(self, job_id: int, digits: str, tries: int) -> str:
        found = self.dispatcher.request_of_job(job_id)
        if found is None:
            return self.renderer.say_and_hang_up((Say("technical_problem"),))
        row, request = found
        if digits == ACKNOWLEDGE:
            self.dispatcher.taken(job_id, "acknowledged")
            return self.renderer.say_and_hang_up((Say("outbound_acknowledged"),))
        if digits == PUT_THROUGH:
            self.dispatcher.taken(job_id, "put_through")
            return self._put_through(job_id, request)
        if digits == REPORT:
            return self.renderer.summary_call(
                (Say("staff_outcome_menu"),), self._url("/twilio/outbound/outcome", job_id, 1)
            )
        if tries >= MAX_TRIES:
            return self.renderer.goodbye()
        says = self._summary(row.payload, request) if digits == REPEAT or not digits else ()
        return self.renderer.summary_call(
            (*says, Say("outbound_menu")), self._menu(job_id, tries + 1)
        )

    def outcome(self, job_id: int, digits: str, tries: int) -> str:
        """Key 4 of the menu: what came of the request, as on the staff's side (§6)."""
        outcome = OUTCOMES.get(digits[:1])
        if outcome is None:
            if tries >= MAX_TRIES:
                return self.renderer.goodbye()
            return self.renderer.summary_call(
                (Say("invalid_key"), Say("staff_outcome_menu")),
                self._url("/twilio/outbound/outcome", job_id, tries + 1),
            )
        self.dispatcher.taken(job_id, outcome)
        return self.renderer.say_and_hang_up((Say("outbound_acknowledged"),))

    def _put_through(self, job_id: int, request: Request) -> str:
        client = request.state.callback or request.state.caller
        if not client:
            return self.renderer.say_and_hang_up((Say("outbound_no_callback"),))
        # The client sees the out-of-hours number they called, not the technician's mobile.
        shown = request.call.to_number or self.dispatcher.settings.IVR_CALLER_ID
        return self.renderer.put_through((Say("outbound_connecting"),), client, shown)

    def _summary(self, payload: dict[str, object], request: Request) -> tuple[Say, ...]:
        unreachable = payload.get("unreachable")
        if isinstance(unreachable, dict):
            values = {k: str(v) for k, v in unreachable.items()}
            return (Say("summary_unreachable", values),)
        role = "manager" if payload.get("role") == "manager" else "technician"
        return (Say(f"summary_{role}", self.dispatcher.summary(request)),)

    def _menu(self, job_id: int, tries: int) -> str:
        return self._url("/twilio/outbound/menu", job_id, tries)

    def _url(self, path: str, job_id: int, tries: int) -> str:
        return self.renderer.urls.url(path, job=job_id, tries=tries)
