"""Calls to the out-of-hours number (`/twilio/voice`, `/twilio/voice/step/...`): a caller's, on
the caller's flow, or a technician's or a manager's own, on the staff's flow (chosen by the
number calling, or by * at the caller's first question). Also what Twilio reports of a call
(its status, its recordings), and what to answer when nothing else can be."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from ivr.adapters.orm import CallRow, DialAttemptRow, table_of
from ivr.adapters.prompt_store import default_prompts
from ivr.adapters.twilio_rest import ENDED
from ivr.adapters.twiml import Links, Renderer
from ivr.domain.outcomes import Report, RequestOutcome
from ivr.domain.phones import e164_or_none
from ivr.services import call_ends, calling_again, recordings, staff
from ivr.services.facts import CallerWorld, StaffWorld
from ivr.services.jobs import JobQueue
from ivr.services.turns import (
    Conversation,
    Conversations,
    Opening,
    Played,
    Webhook,
    caller_gone,
    event_of,
    integer,
)
from voice_flows import caller
from voice_flows import staff as staff_flow
from voice_flows.caller import CallerState
from voice_flows.engine import Event, State
from voice_flows.instructions import Connect, Say
from voice_flows.staff import StaffState

_SCREENED = ("technician", "manager")  # roles whose dial is taken only by a key
# A dial attempt the caller ended by hanging up while it rang: its line was not really tried.
CALLER_GONE = "caller_gone"


class Calls(Conversations):
    flows = (caller.flow, staff_flow.flow)
    rows = table_of(CallRow)
    _FILTERS = ("client_id", "danger", "fault", "reached", "message_seconds", "request_id")
    saved = (*Conversations.saved, "flow", *_FILTERS)
    _KEPT = ("action", "reason", "agency")  # a turn that decides nothing keeps the decision

    def find(self, session: Session, hook: Webhook) -> Conversation | None:
        call = session.execute(_CALL, {"sid": hook.call_sid}).first()
        if call is None:
            return None
        attempt_id = hook.number("attempt")  # a dial's outcome: the attempt it closes
        attempt = (
            session.execute(_ATTEMPT, {"attempt": attempt_id, "call": call.id}).first()
            if attempt_id is not None
            else None
        )  # none when it is another call's: this request is no outcome of ours
        return Conversation(
            call.id,
            call.id,
            hook.call_sid,
            call.flow,
            call.turn,
            call.state,
            call.last_response,
            attempt,
        )

    def open(self, hook: Webhook) -> Opening:
        """A call comes in: an on-call line or a manager's mobile is asked its PIN (§6);
        anyone else is a caller."""
        number = e164_or_none(hook.get("From"))
        who = staff.staff_of(self.reference.directory(self.db), number)
        if who is None:
            return Opening(caller.flow.name, CallerState(caller=number))
        agency = who.agency if who.role == "technician" else None
        region = who.region if who.role == "manager" else None
        return Opening(
            staff_flow.flow.name, StaffState(number=number, agency=agency, region=region)
        )

    def opened(self, hook: Webhook, opening: Opening) -> dict[str, Any]:
        caller = e164_or_none(hook.get("From")) or hook.get("From") or None
        return {"from_number": caller, "to_number": hook.get("To") or None}

    def facts(self, flow: str, row: Any) -> CallerWorld | StaffWorld:
        world = CallerWorld if flow == caller.flow.name else StaffWorld
        return world(self.db, self.reference, self.settings, self.clock)

    def event(self, talk: Conversation, hook: Webhook) -> Event:
        accepted = _dial_taken(talk.row, hook)
        recorded = "RecordingDuration" in hook.form or talk.state.get("step") == "message_recorded"
        return event_of(hook, dialed=accepted, recorded=recorded)

    def handed_over(self, state: State, flow: str) -> State:
        if isinstance(state, CallerState):  # * at the first question: which agency, a PIN
            return StaffState(step="agency", handed_from=state.to_dict())
        # No agency code after the *: a client who pressed it by mistake, back where they were
        # (the first question; the danger menu for a 9), with their number, the recording
        # notice's answer...
        assert isinstance(state, StaffState)
        return CallerState.from_dict({"step": "identify", **(state.handed_from or {})})

    def apply(
        self, session: Session, talk: Conversation, played: Played, hook: Webhook, now: datetime
    ) -> int | None:
        accepted = _dial_taken(talk.row, hook)
        if accepted is not None:
            status = hook.get("DialCallStatus") or "unknown"
            if not accepted and caller_gone(hook):
                status = CALLER_GONE
            closed = {"ended": now, "status": status}
            leg = hook.get("DialCallSid") or None
            session.execute(
                _CLOSE_ATTEMPT, {"attempt": talk.row.id, **closed, "taken": accepted, "leg": leg}
            )
        for note in played.reply.notes:
            detail = note.detail
            if note.kind == "staff_report":
                queue = JobQueue(self.db, self.clock)
                report = Report(RequestOutcome(detail["outcome"]), detail["by"], detail["slot"])
                staff.record_outcome(session, queue, detail["call"], report)
            elif note.kind == "called_again":
                queue = JobQueue(self.db, self.clock)
                how, request = detail["choice"], detail["request"]
                calling_again.called_again(session, queue, request, talk.id, how, talk.turn)
            elif note.kind == "coverage":
                staff.declare_coverage(
                    session, now, detail["number"], detail["agency"], detail["hours"], talk.id
                )
        connect = next((i for i in played.reply.instructions if isinstance(i, Connect)), None)
        if connect is None:
            return None
        opened = {"call_id": talk.id, "role": connect.role, "number": connect.number}
        return int(session.execute(_OPEN_ATTEMPT, {**opened, "started_at": now}).scalar_one())

    def links(self, talk: Conversation, attempt: int | None) -> Links:
        base = self.settings.PUBLIC_BASE_URL
        turn = {"turn": talk.turn + 1}
        return Links(base, "/twilio/voice/step/{step}", turn, talk.sid, attempt)

    def columns(self, played: Played) -> dict[str, Any]:
        state = played.state
        caller_state = state if isinstance(state, CallerState) else CallerState()
        filters = {name: getattr(caller_state, name) for name in self._FILTERS}
        return {"flow": played.flow, **filters, **self._decided(played)}

    def kept_unless_given(self) -> dict[str, Any]:
        table = self.rows
        return {name: func.coalesce(bindparam(f"set_{name}"), table.c[name]) for name in self._KEPT}

    def _decided(self, played: Played) -> dict[str, str | None]:
        """The decision this turn took, and the agency the call is for, when it knows them:
        the columns the back office filters on."""
        decided: dict[str, str | None] = dict.fromkeys(self._KEPT)
        decision = next((n for n in reversed(played.reply.notes) if n.kind == "decision"), None)
        if decision is not None:
            decided.update(action=decision.detail["action"], reason=decision.detail["reason"])
        state = played.state
        if isinstance(state, CallerState):
            world = CallerWorld(self.db, self.reference, self.settings, self.clock)
            decided["agency"] = world.agency_for(state.client_id, state.postcode)
        return decided

    def records_bridges(self, state: State) -> bool:
        return isinstance(state, CallerState) and state.recording

    def nothing_to_answer(self) -> str:
        return self.safe_answer()

    # --- What Twilio reports ------------------------------------------------------------------

    def status(self, hook: Webhook) -> None:
        """A call status callback: applied in order (SequenceNumber), once."""
        with self.db.session() as session:
            call = session.scalar(
                select(CallRow).where(CallRow.sid == hook.call_sid).with_for_update()
            )
            if call is None:
                return
            sequence = integer(hook.get("SequenceNumber"), -1)
            if sequence != -1 and sequence <= call.status_sequence:
                return
            if call.twilio_status in ENDED and sequence == -1:
                return
            status = hook.get("CallStatus") or call.twilio_status
            call.status_sequence = max(sequence, call.status_sequence)
            call.twilio_status = status
            if status in ENDED:
                call_ends.end(session, call, self.clock.now(), status)

    def recording(self, hook: Webhook, kind: str) -> None:
        """A recording is ready: keep its reference (once), never its content in logs."""
        sid = hook.get("RecordingSid")
        if not sid:
            return
        seconds = integer(hook.get("RecordingDuration"))
        made = (hook.get("RecordingUrl"), seconds, hook.get("RecordingStatus") or "completed")
        with self.db.session() as session:
            call_sid = hook.get("CallSid") or hook.call_sid
            recordings.keep(session, self.clock.now(), sid, call_sid, kind, made)

    # --- When nothing else can be answered ------------------------------------------------

    def safe_answer(self) -> str:
        """What a caller hears when the app cannot work normally: a person, or advice and a
        message. Needs no database, and leads to no URL that does."""
        return self._plain().emergency(self.settings.EMERGENCY_FORWARD_NUMBER)

    def emergency_dialed(self, dial_status: str) -> str:
        """The safe answer's forward, over: taken, goodbye; not taken (busy, no answer,
        failed), the emergency numbers and a message, as without a forward."""
        if dial_status in ("completed", "answered"):
            return self.goodbye()
        return self._plain().emergency(None)

    def goodbye(self) -> str:
        """Goodbye, needing nothing (the end of the safe path)."""
        return self._plain().say_and_hang_up((Say("goodbye"),))

    def _plain(self) -> Renderer:
        """A renderer of the default words, which needs no database."""
        settings = self.settings
        return Renderer(
            default_prompts(),
            settings.PUBLIC_BASE_URL,
            settings.IVR_VOICE,
            gas_number=settings.GAS_EMERGENCY_NUMBER,
        )


# What a turn of a call reads and writes, besides the call itself (`Conversations`).
_CALLS, _ATTEMPTS = table_of(CallRow), table_of(DialAttemptRow)
_CALL = select(
    _CALLS.c.id, _CALLS.c.flow, _CALLS.c.turn, _CALLS.c.state, _CALLS.c.last_response
).where(_CALLS.c.sid == bindparam("sid"))
_ATTEMPT = select(_ATTEMPTS.c.id, _ATTEMPTS.c.role, _ATTEMPTS.c.accepted).where(
    _ATTEMPTS.c.id == bindparam("attempt"), _ATTEMPTS.c.call_id == bindparam("call")
)
_OPEN_ATTEMPT = insert(_ATTEMPTS).returning(_ATTEMPTS.c.id)
_CLOSE_ATTEMPT = (
    update(_ATTEMPTS)
    .where(_ATTEMPTS.c.id == bindparam("attempt"))
    .values(
        ended_at=bindparam("ended"),
        outcome=func.coalesce(_ATTEMPTS.c.outcome, bindparam("status")),  # the announcement's
        accepted=bindparam("taken"),
        leg_sid=func.coalesce(_ATTEMPTS.c.leg_sid, bindparam("leg")),
    )
)


def _dial_taken(attempt: Any, hook: Webhook) -> bool | None:
    """Whether the person a dial put the caller through to took the call (None: this request
    is no dial's outcome). Screened, they took it by pressing the key; unscreened (the
    operator, an agency's legacy line), if it was answered and lasted."""
    if attempt is None:
        return None
    if attempt.role in _SCREENED:
        return bool(attempt.accepted)
    return hook.get("DialCallStatus") == "completed" and integer(hook.get("DialCallDuration")) > 0
