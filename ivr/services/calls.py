"""Handling the caller's call: each Twilio webhook is one turn of `voice_flows.caller`.

Each turn is one transaction: read the call (locked), let the flow decide, keep the trace
(one row per event, per dial attempt), store the new state and the TwiML answered. A request
Twilio sends again (same turn) gets the same answer and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import (
    AlertRow,
    AppSettingRow,
    CallEventRow,
    CallRow,
    DialAttemptRow,
    RecordingRow,
)
from ivr.adapters.repository import clients_with_phone
from ivr.adapters.twiml import Renderer, Urls
from ivr.clock import Clock
from ivr.domain.geography import agency_for_postcode
from ivr.domain.model import Client
from ivr.domain.phones import InvalidPhoneNumber, to_e164
from ivr.domain.routing import Call, Decision, decide
from ivr.services.prompts import Prompts
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings
from voice_flows.caller import CallState, Event, Note, Turn, next_step, whisper_for
from voice_flows.instructions import Connect, Say

log = logging.getLogger(__name__)

_ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}


class WorldFacts:
    """`voice_flows.caller.Facts` answered from the database and the directory in force."""

    def __init__(
        self,
        session: Session,
        reference: ReferenceCache,
        settings: Settings,
        clock: Clock,
        recording_calls: bool | None = None,
    ) -> None:
        self._session = session
        self._reference = reference
        self._table = reference.clients_table(session)
        self._directory = reference.directory(session)
        self._settings = settings
        self._clock = clock
        self._clients: dict[str, Client | None] = {}
        self.recording_calls = (
            reference.versions(session).record_calls if recording_calls is None else recording_calls
        )

    @property
    def operator_number(self) -> str | None:
        return self._settings.OPERATOR_NUMBER

    @property
    def national_duty_number(self) -> str | None:
        return self._settings.NATIONAL_DUTY_NUMBER

    @property
    def speech(self) -> bool:
        return self._settings.IVR_SPEECH

    def client(self, client_id: str) -> Client | None:
        if client_id not in self._clients:
            self._clients[client_id] = self._reference.client(self._session, client_id)
        return self._clients[client_id]

    def clients_with_phone(self, number: str) -> list[Client]:
        if self._table is None:
            return []
        return clients_with_phone(self._session, number, self._table)

    def decide(self, client: Client | None, danger: bool, caller_region: str | None) -> Decision:
        call = Call(at=self._clock.now(), client=client, danger=danger, caller_region=caller_region)
        return decide(call, self._directory, self._settings.NATIONAL_DUTY_NUMBER)

    def region_of_postcode(self, postcode: str) -> str | None:
        agency = agency_for_postcode(self._directory, postcode)
        return agency.region if agency else None

    def agency_of_postcode(self, postcode: str | None) -> str | None:
        agency = agency_for_postcode(self._directory, postcode) if postcode else None
        return agency.cia if agency else None

    def gas_emergency_number(self, client: Client | None) -> str:
        if client is not None:
            override = self._session.get(AppSettingRow, f"gas_emergency_number:{client.agency}")
            if override is not None:
                return override.value
        return self._settings.GAS_EMERGENCY_NUMBER


@dataclass(frozen=True)
class Webhook:
    """What a Twilio request tells us, already parsed."""

    call_sid: str
    params: Mapping[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.params.get(name, default)


class CallService:
    """The use cases behind `/twilio/...` for the caller's call."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.reference = ReferenceCache()
        self.urls = Urls(settings.PUBLIC_BASE_URL)

    # --- Turns of the flow ----------------------------------------------------------------

    def incoming(self, hook: Webhook) -> str:
        """A call comes in: create it (once), and answer its first turn."""
        caller = _e164_or_none(hook.get("From"))
        try:
            with self.db.session() as session:
                known = session.execute(
                    select(CallRow.id, CallRow.last_response).where(CallRow.sid == hook.call_sid)
                ).first()
                if known is not None and known.last_response:
                    return str(known.last_response)  # Twilio asked again: the same answer
                if known is None:  # else: created, but its first turn never written
                    session.add(
                        CallRow(
                            sid=hook.call_sid,
                            from_number=caller or hook.get("From") or None,
                            to_number=hook.get("To") or None,
                            started_at=self.clock.now(),
                            state=CallState(caller=caller).to_dict(),
                        )
                    )
        except IntegrityError:  # the same call, created meanwhile by a retry
            pass
        return self._answer(hook, "welcome", 0, None, start=True)

    def step(self, hook: Webhook, step: str, turn: int, attempt: int | None) -> str:
        """An answer to a question of the flow, a dial outcome, a recorded message."""
        return self._answer(hook, step, turn, attempt)

    def _answer(
        self, hook: Webhook, step: str, turn: int, attempt: int | None, start: bool = False
    ) -> str:
        """One turn: decided on a snapshot, without holding any lock; then written in one
        short transaction guarded by the turn, so that turns of different calls run side by
        side and a request Twilio sends twice is answered once."""
        with self.db.snapshot() as session:
            call = self._call(session, hook.call_sid)
            if call is None:
                plan = None
            elif turn != call.turn or (start and call.turn > 0):
                return call.last_response  # Twilio retried a request already answered
            else:
                closing = self._closing(session, call, hook, attempt)
                event = Event("start") if start else self._event_from(hook, step, closing)
                plan = self._plan(session, call, event, closing)
        if plan is None:
            return self.incoming(hook)  # a call we never saw begin: start it now
        return self._write(plan)

    def _event_from(self, hook: Webhook, step: str, closing: _Closing | None) -> Event:
        if closing is not None:
            return Event("dialed", accepted=closing.accepted)
        if "RecordingDuration" in hook.params or step in ("message_recorded",):
            return Event("recorded", seconds=_int(hook.get("RecordingDuration")))
        confidence = hook.get("Confidence")
        return Event(
            "input",
            digits=hook.get("Digits"),
            speech=hook.get("SpeechResult"),
            confidence=float(confidence) if confidence else None,
        )

    def _plan(
        self, session: Session, call: CallRow, event: Event, closing: _Closing | None
    ) -> _Plan:
        """Everything a turn will write, decided from a snapshot."""
        state = CallState.from_dict(call.state)
        plan = _Plan(call.id, call.sid, call.turn, closing)
        plan.event(_input_event(state, event))
        facts = self._facts(session)
        state, turn = next_step(state, event, facts)
        plan.state, plan.turn = state, turn
        plan.prompts = self.reference.prompts(session)
        for note in turn.notes:
            plan.event((note.kind, dict(note.detail), state.step))
        for instruction in turn.instructions:
            for say in _says(instruction):
                plan.event(
                    (
                        "prompt",
                        {"prompt": say.prompt, "text": plan.prompts.text(say.prompt, say.values)},
                        state.step,
                    )
                )
            if isinstance(instruction, Connect):
                plan.connect = instruction
                plan.event(
                    ("dial", {"number": instruction.number, "role": instruction.role}, state.step)
                )
        plan.columns = self._columns(call, state, turn, facts)
        return plan

    def _write(self, plan: _Plan) -> str:
        """Write a turn in one short transaction: Core statements on the session's connection,
        the call updated once, guarded by the turn. A lost race rolls everything back and
        answers what the winner answered."""
        assert plan.state is not None and plan.turn is not None
        now = self.clock.now()
        try:
            with self.db.session() as session:
                connection = session.connection()
                attempt = None
                if plan.connect is not None:
                    attempt = connection.execute(
                        _NEW_ATTEMPT,
                        {
                            "call_id": plan.call_id,
                            "role": plan.connect.role,
                            "number": plan.connect.number,
                            "started_at": now,
                        },
                    ).scalar_one()
                twiml = self._renderer(plan.prompts, plan.state.recording).turn(
                    plan.turn.instructions,
                    call_sid=plan.sid,
                    turn=plan.expected_turn + 1,
                    attempt=attempt,
                )
                moved = connection.execute(
                    _NEXT_TURN,
                    {
                        "call_id": plan.call_id,
                        "expected": plan.expected_turn,
                        "next": plan.expected_turn + 1,
                        "twiml": twiml,
                        **plan.columns,
                    },
                )
                if cast(CursorResult[Any], moved).rowcount == 0:
                    raise _AnsweredMeanwhile
                if plan.closing is not None:
                    closing = plan.closing
                    connection.execute(
                        _CLOSE_ATTEMPT,
                        {
                            "attempt_id": closing.attempt_id,
                            "ended_at": now,
                            "outcome": closing.outcome,
                            "accepted": closing.accepted,
                            "leg_sid": closing.leg_sid,
                        },
                    )
                connection.execute(
                    _NEW_EVENT,
                    [
                        {
                            "call_id": plan.call_id,
                            "at": now,
                            "turn": plan.expected_turn + 1,
                            "kind": kind,
                            "detail": detail,
                            "step": step,
                        }
                        for kind, detail, step in plan.events
                    ],
                )
        except _AnsweredMeanwhile:
            with self.db.snapshot() as session:
                return (
                    session.scalar(select(CallRow.last_response).where(CallRow.id == plan.call_id))
                    or ""
                )
        return twiml

    def _facts(self, session: Session, recording: bool | None = None) -> WorldFacts:
        return WorldFacts(session, self.reference, self.settings, self.clock, recording)

    # --- The callee's leg: screening ------------------------------------------------------

    def whisper(self, hook: Webhook, attempt_id: int, stage: str, tries: int) -> str:
        """The callee answered: tell them who needs them; a key takes the call."""
        with self.db.session() as session:
            attempt = session.get(DialAttemptRow, attempt_id, with_for_update=True)
            if attempt is None:
                return self._renderer(Prompts({}, {}), False).declined()
            call = session.get_one(CallRow, attempt.call_id)
            state = CallState.from_dict(call.state)
            prompts = self.reference.prompts(session)
            renderer = self._renderer(prompts, False)
            digits = hook.get("Digits")
            if stage == "answer" and digits == "1":
                attempt.accepted = True
                attempt.leg_sid = hook.call_sid
                self._event(
                    session, call, "call_taken", {"number": attempt.number, "role": attempt.role}
                )
                return renderer.connected()
            if stage == "answer" and (tries >= 2 or (digits and digits != "2")):
                self._event(
                    session, call, "call_declined", {"number": attempt.number, "digits": digits}
                )
                return renderer.declined()
            whisper = whisper_for(state, self._facts(session, recording=False))
            return renderer.whisper(whisper.says, attempt_id, tries + (stage == "answer"))

    def _closing(
        self, session: Session, call: CallRow, hook: Webhook, attempt_id: int | None
    ) -> _Closing | None:
        """The outcome of a call we put through: taken by a person if they pressed the key
        (screened), or, unscreened, if it was answered and lasted."""
        attempt = session.get(DialAttemptRow, attempt_id) if attempt_id is not None else None
        if attempt is None or attempt.call_id != call.id:
            return None
        status = hook.get("DialCallStatus") or "unknown"
        accepted = attempt.accepted
        if attempt.role not in ("technician", "manager"):
            accepted = status == "completed" and _int(hook.get("DialCallDuration")) > 0
        return _Closing(attempt.id, status, accepted, hook.get("DialCallSid") or None)

    def _columns(
        self, call: CallRow, state: CallState, turn: Turn, facts: WorldFacts
    ) -> dict[str, Any]:
        """The call's columns the back office filters on, copied from the flow's state."""
        columns: dict[str, Any] = {
            "state": state.to_dict(),
            "step": state.step,
            "client_id": state.client_id,
            "danger": state.danger,
            "fault": state.fault,
            "reached": state.reached,
            "message_seconds": state.message_seconds,
        }
        decision = _last(turn.notes, "decision")
        # Always the same columns: one statement, compiled once.
        columns["action"] = decision.detail["action"] if decision else call.action
        columns["reason"] = decision.detail["reason"] if decision else call.reason
        client = facts.client(state.client_id) if state.client_id else None
        agency = client.agency if client else facts.agency_of_postcode(state.postcode)
        columns["agency"] = agency or call.agency
        return columns

    def status(self, hook: Webhook) -> None:
        """A call status callback: applied in order (SequenceNumber), once."""
        with self.db.session() as session:
            call = self._call(session, hook.call_sid, lock=True)
            if call is None:
                return
            sequence = _int(hook.get("SequenceNumber"), -1)
            if sequence != -1 and sequence <= call.status_sequence:
                return
            if call.twilio_status in _ENDED and sequence == -1:
                return
            call.status_sequence = max(sequence, call.status_sequence)
            status = hook.get("CallStatus")
            call.twilio_status = status or call.twilio_status
            if status in _ENDED and call.ended_at is None:
                call.ended_at = self.clock.now()
                ended_by_caller = call.step not in ("goodbye",)
                self._event(
                    session,
                    call,
                    "ended",
                    {"status": status, "step": call.step, "by_caller": ended_by_caller},
                )

    def recording(self, hook: Webhook, kind: str) -> None:
        """A recording is ready: keep its reference (once), never its content in logs."""
        with self.db.session() as session:
            sid = hook.get("RecordingSid")
            if not sid or session.scalar(select(RecordingRow.id).where(RecordingRow.sid == sid)):
                return
            call = self._call(session, hook.get("CallSid") or hook.call_sid)
            session.add(
                RecordingRow(
                    call_id=call.id if call else None,
                    sid=sid,
                    url=hook.get("RecordingUrl"),
                    duration=_int(hook.get("RecordingDuration")),
                    kind=kind,
                    status=hook.get("RecordingStatus") or "completed",
                    received_at=self.clock.now(),
                )
            )
            if call is not None:
                self._event(
                    session,
                    call,
                    "recording",
                    {"sid": sid, "kind": kind, "seconds": _int(hook.get("RecordingDuration"))},
                )

    # --- When something goes wrong --------------------------------------------------------

    def alert(self, kind: str, message: str, call_sid: str | None) -> None:
        """Note an alert for operators; never raises (we are already handling a failure)."""
        log.error("alert %s: %s", kind, message)
        try:
            with self.db.session() as session:
                session.add(
                    AlertRow(at=self.clock.now(), kind=kind, message=message, call_sid=call_sid)
                )
        except Exception:  # the database may be what failed
            log.exception("could not store alert %s", kind)

    def safe_answer(self) -> str:
        """What a caller hears when the app cannot work normally: a person, or advice and a
        message. Needs no database, and leads to no URL that does."""
        return self._renderer(Prompts({}, {}), False).emergency(
            self.settings.EMERGENCY_FORWARD_NUMBER
        )

    def goodbye(self) -> str:
        """Goodbye, needing nothing (the end of the safe path)."""
        return self._renderer(Prompts({}, {}), False).goodbye()

    def callee_safe_answer(self) -> str:
        """The technician's leg when the whisper failed: they are not connected."""
        return self._renderer(Prompts({}, {}), False).declined()

    # --- Helpers ----------------------------------------------------------------------------

    def _renderer(self, prompts: Prompts, recording: bool) -> Renderer:
        settings = self.settings
        return Renderer(
            prompts,
            self.urls,
            settings.IVR_VOICE,
            settings.IVR_SPEECH,
            settings.IVR_CALLER_ID,
            recording,
            settings.PUBLIC_BASE_URL,
            settings.GAS_EMERGENCY_NUMBER,
        )

    def _call(self, session: Session, sid: str, lock: bool = False) -> CallRow | None:
        query = _CALL_BY_SID.with_for_update() if lock else _CALL_BY_SID
        return session.scalar(query, {"sid": sid})

    def _event(
        self,
        session: Session,
        call: CallRow,
        kind: str,
        detail: Mapping[str, Any],
        step: str | None = None,
    ) -> None:
        session.add(
            CallEventRow(
                call_id=call.id,
                at=self.clock.now(),
                turn=call.turn,
                step=step or call.step,
                kind=kind,
                detail=dict(detail),
            )
        )


# The statements of every turn, built once: building and caching them costs more than running.
_CALL_COLUMNS = (
    "state",
    "step",
    "client_id",
    "danger",
    "fault",
    "reached",
    "message_seconds",
    "action",
    "reason",
    "agency",
)
_NEXT_TURN = (
    update(CallRow)
    .where(CallRow.id == bindparam("call_id"), CallRow.turn == bindparam("expected"))
    .values(
        turn=bindparam("next"),
        last_response=bindparam("twiml"),
        **{name: bindparam(name) for name in _CALL_COLUMNS},
    )
)
_NEW_ATTEMPT = insert(DialAttemptRow).returning(DialAttemptRow.id)
_CLOSE_ATTEMPT = (
    update(DialAttemptRow)
    .where(DialAttemptRow.id == bindparam("attempt_id"))
    .values(
        ended_at=bindparam("ended_at"),
        outcome=bindparam("outcome"),
        accepted=bindparam("accepted"),
        leg_sid=func.coalesce(DialAttemptRow.leg_sid, bindparam("leg_sid")),
    )
)
_NEW_EVENT = insert(CallEventRow)
_CALL_BY_SID = select(CallRow).where(CallRow.sid == bindparam("sid"))


class _AnsweredMeanwhile(Exception):
    """Another request for the same turn was written first."""


@dataclass(frozen=True)
class _Closing:
    attempt_id: int
    outcome: str
    accepted: bool
    leg_sid: str | None


@dataclass
class _Plan:
    """What one turn writes: the call's new state and columns, its events, a dial attempt."""

    call_id: int
    sid: str
    expected_turn: int
    closing: _Closing | None
    state: CallState | None = None
    turn: Turn | None = None
    prompts: Prompts = field(default_factory=lambda: Prompts({}, {}))
    columns: dict[str, Any] = field(default_factory=dict)
    connect: Connect | None = None
    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def event(self, event: tuple[str, dict[str, Any], str] | None) -> None:
        if event is not None:
            self.events.append(event)


def _input_event(state: CallState, event: Event) -> tuple[str, dict[str, Any], str] | None:
    """The trace of what came in: keys and words, a dial's or a recording's outcome."""
    if event.kind == "input":
        detail: dict[str, Any] = {"digits": event.digits}
        if event.speech:
            detail.update(speech=event.speech, confidence=event.confidence)
        return ("input", detail, state.step)
    if event.kind == "start":
        return None
    return (event.kind, {"accepted": event.accepted, "seconds": event.seconds}, state.step)


def _says(instruction: object) -> tuple[Say, ...]:
    if isinstance(instruction, Say):
        return (instruction,)
    return tuple(getattr(instruction, "says", ()))


def _last(notes: tuple[Note, ...], kind: str) -> Note | None:
    return next((n for n in reversed(notes) if n.kind == kind), None)


def _int(text: str, default: int = 0) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _e164_or_none(number: str) -> str | None:
    """The caller's number, when Twilio gives one (not "anonymous" or empty)."""
    try:
        return to_e164(number) if number and any(c.isdigit() for c in number) else None
    except InvalidPhoneNumber:
        return None
