"""Handling the caller's call: each Twilio webhook is one turn of `voice_flows.caller`.

A turn reads the call, lets the flow decide and renders the TwiML without holding any lock,
then writes everything in one short transaction guarded by the turn: the call's new state,
one row per event, a dial attempt. A request Twilio sends again (same turn) gets the same
answer and changes nothing. The turn's statements run straight on the driver
(`ivr.adapters.prepared`): they are most of a webhook's cost otherwise. The call as a turn
wrote it is kept in memory (`_WrittenCalls`), so that the next turn, most often answered by
the same process, need not read it again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
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
from ivr.adapters.prepared import Prepared, Row, binds
from ivr.adapters.prompt_store import default_prompts
from ivr.adapters.repository import clients_with_phone
from ivr.adapters.twiml import Renderer, Urls, fill_attempt
from ivr.clock import Clock
from ivr.domain.geography import agency_for_postcode
from ivr.domain.local_time import in_paris
from ivr.domain.model import Client
from ivr.domain.phones import InvalidPhoneNumber, to_e164
from ivr.domain.prompts import Prompts
from ivr.domain.routing import Call, Decision, decide
from ivr.domain.triage import Danger, Fault
from ivr.services import staff
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings
from voice_flows.caller import (
    CallState,
    Event,
    Note,
    Turn,
    WaitingRequest,
    next_step,
    whisper_for,
)
from voice_flows.instructions import Connect, Say

log = logging.getLogger(__name__)

_ENDED = {"completed", "busy", "failed", "no-answer", "canceled"}


class WorldFacts:
    """`voice_flows.caller.Facts` answered from the database and the directory in force.

    Most turns need no query: what changes once a week is kept in `ReferenceCache`, and a
    snapshot is opened only for what is not kept."""

    def __init__(
        self,
        db: Database,
        reference: ReferenceCache,
        settings: Settings,
        clock: Clock,
        recording_calls: bool | None = None,
    ) -> None:
        self._db = db
        self._reference = reference
        self._table = reference.clients_table(db)
        self._directory = reference.directory(db)
        self._settings = settings
        self._clock = clock
        self._clients: dict[str, Client | None] = {}
        self.recording_calls = (
            reference.versions(db).record_calls if recording_calls is None else recording_calls
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
            self._clients[client_id] = self._reference.client(self._db, client_id)
        return self._clients[client_id]

    def clients_with_phone(self, number: str) -> list[Client]:
        if self._table is None:
            return []
        with self._db.driver() as cursor:
            return clients_with_phone(cursor, number, self._table)

    def decide(self, client: Client | None, danger: bool, caller_region: str | None) -> Decision:
        call = Call(at=self._clock.now(), client=client, danger=danger, caller_region=caller_region)
        return decide(call, self._directory, self._settings.NATIONAL_DUTY_NUMBER)

    def region_of_postcode(self, postcode: str) -> str | None:
        agency = agency_for_postcode(self._directory, postcode)
        return agency.region if agency else None

    def agency_of_postcode(self, postcode: str | None) -> str | None:
        agency = agency_for_postcode(self._directory, postcode) if postcode else None
        return agency.cia if agency else None

    # --- The staff's side (§6) ---

    def staff_line(self, number: str | None) -> str | None:
        found = staff.staff_of(self._directory, number)
        return found.agency if found and found.role == "technician" else None

    def agency_lines(self, agency: str) -> list[str]:
        return [line.mobile for line in self._directory.lines.get(agency, ())]

    def pin_of(self, numbers: list[str], pin: str) -> str | None:
        return staff.pin_ok(self._db, numbers, pin)

    def waiting(self, agency: str) -> list[WaitingRequest]:
        out = []
        for request in staff.waiting_requests(self._db, self._clock, agency):
            client = self.client(request.client_id) if request.client_id else None
            out.append(
                WaitingRequest(
                    request.call_id,
                    in_paris(request.started_at).strftime("%H h %M"),
                    f"{client.name}, à {client.city}" if client else "un appelant sans contrat",
                    Fault(request.fault).label if request.fault else "panne non précisée",
                    request.message_seconds,
                    request.callback,
                    message_url=request.message_url,
                )
            )
        return out

    def manager_region(self, number: str | None) -> str | None:
        return staff.manager_region(self._directory, number)

    def alerts(self, region: str) -> list[WaitingRequest]:
        out = []
        for call in staff.alerts(self._db, self._clock, self._directory, region):
            client = self.client(call.client_id) if call.client_id else None
            lines = self.agency_lines(call.agency) if call.agency else []
            what = Danger(call.danger).label if call.danger else "technicien injoignable"
            out.append(
                WaitingRequest(
                    call.id,
                    in_paris(call.started_at).strftime("%H h %M"),
                    f"{client.name}, à {client.city}" if client else "un appelant sans contrat",
                    what,
                    call.message_seconds,
                    call.state.get("callback") or call.state.get("caller"),
                    lines[0] if lines else None,
                )
            )
        return out

    def gas_emergency_number(self, client: Client | None) -> str:
        if client is not None:
            with self._db.snapshot() as session:
                override = session.get(AppSettingRow, f"gas_emergency_number:{client.agency}")
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
        self.written = _WrittenCalls()

    # --- Turns of the flow ----------------------------------------------------------------

    def incoming(self, hook: Webhook) -> str:
        """A call comes in: create it (once), and answer its first turn."""
        caller = _e164_or_none(hook.get("From"))
        try:
            with self.db.driver(write=True) as cursor:
                known = _CALL_BY_SID.first(cursor, {"sid": hook.call_sid})
                if known is not None and known.last_response:
                    return str(known.last_response)  # Twilio asked again: the same answer
                if known is None:  # else: created, but its first turn never written
                    _NEW_CALL.execute(
                        cursor,
                        {
                            "sid": hook.call_sid,
                            "from_number": caller or hook.get("From") or None,
                            "to_number": hook.get("To") or None,
                            "started_at": self.clock.now(),
                            "state": CallState(caller=caller).to_dict(),
                        },
                    )
        except IntegrityError:  # the same call, created meanwhile by a retry
            pass
        return self._answer(hook, "welcome", 0, None, start=True)

    def step(self, hook: Webhook, step: str, turn: int, attempt: int | None) -> str:
        """An answer to a question of the flow, a dial outcome, a recorded message."""
        return self._answer(hook, step, turn, attempt)

    def _answer(
        self, hook: Webhook, step: str, turn: int, attempt_id: int | None, start: bool = False
    ) -> str:
        """One turn: decided on what was read, without holding any lock; then written in one
        short transaction guarded by the turn, so that turns of different calls run side by
        side and a request Twilio sends twice is answered once."""
        call: Row | _Written | None = self.written.get(hook.call_sid, turn)
        attempt = None
        if call is None or attempt_id is not None:  # an attempt changes beside the call
            with self.db.driver() as cursor:
                read = _CALL_BY_SID.first(cursor, {"sid": hook.call_sid})
                attempt = (
                    _ATTEMPT_BY_ID.first(cursor, {"attempt_id": attempt_id})
                    if read is not None and attempt_id is not None
                    else None
                )
            if read is None:
                return self.incoming(hook)  # a call we never saw begin: start it now
            if turn != read.turn or (start and read.turn > 0):
                return str(read.last_response)  # Twilio retried a request already answered
            call = read
        closing = _closing(call, hook, attempt)
        event = Event("start") if start else self._event_from(hook, step, closing)
        return self._write(self._plan(call, event, closing))

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

    def _plan(self, call: Row | _Written, event: Event, closing: _Closing | None) -> _Plan:
        """Everything a turn will write, and the TwiML it answers."""
        state = CallState.from_dict(call.state)
        plan = _Plan(call.id, call.sid, call.turn, closing)
        plan.event(_input_event(state, event))
        facts = self._facts()
        state, turn = next_step(state, event, facts)
        plan.state, plan.turn = state, turn
        prompts = self.reference.prompts(self.db)
        for note in turn.notes:
            plan.event((note.kind, dict(note.detail), state.step))
        for instruction in turn.instructions:
            for say in _says(instruction):
                text = prompts.text(say.prompt, say.values)
                plan.event(("prompt", {"prompt": say.prompt, "text": text}, state.step))
            if isinstance(instruction, Connect):
                plan.connect = instruction
                plan.event(
                    ("dial", {"number": instruction.number, "role": instruction.role}, state.step)
                )
        plan.columns = self._columns(call, state, turn, facts)
        # Rendered before the write, to hold the write lock for the writes alone; the dial
        # attempt's number is only known then, so its URLs carry a slot filled at the write.
        plan.twiml = self._renderer(prompts, state.recording).turn(
            turn.instructions, call_sid=call.sid, turn=call.turn + 1
        )
        return plan

    def _write(self, plan: _Plan) -> str:
        """Write a turn in one short transaction, the call updated once, guarded by the turn.
        A lost race rolls everything back and answers what the winner answered."""
        now = self.clock.now()
        twiml = plan.twiml
        try:
            with self.db.driver(write=True) as cursor:
                if plan.connect is not None:
                    attempt = _NEW_ATTEMPT.first(
                        cursor,
                        {
                            "call_id": plan.call_id,
                            "role": plan.connect.role,
                            "number": plan.connect.number,
                            "started_at": now,
                        },
                    )
                    assert attempt is not None
                    twiml = fill_attempt(twiml, attempt.id)
                moved = _NEXT_TURN.execute(
                    cursor,
                    {
                        "call_id": plan.call_id,
                        "expected": plan.expected_turn,
                        "next": plan.expected_turn + 1,
                        "twiml": twiml,
                        **plan.columns,
                    },
                )
                if moved == 0:
                    raise _AnsweredMeanwhile
                if plan.closing is not None:
                    closing = plan.closing
                    _CLOSE_ATTEMPT.execute(
                        cursor,
                        {
                            "attempt_id": closing.attempt_id,
                            "ended_at": now,
                            "outcome": closing.outcome,
                            "accepted": closing.accepted,
                            "leg_sid": closing.leg_sid,
                        },
                    )
                _NEW_EVENT.execute_many(
                    cursor,
                    (
                        {
                            "call_id": plan.call_id,
                            "at": now,
                            "turn": plan.expected_turn + 1,
                            "kind": kind,
                            "detail": detail,
                            "step": step,
                        }
                        for kind, detail, step in plan.events
                    ),
                )
        except _AnsweredMeanwhile:
            self.written.forget(plan.sid)
            with self.db.driver() as cursor:
                winner = _LAST_RESPONSE.first(cursor, {"call_id": plan.call_id})
            return str(winner.last_response) if winner else ""
        except BaseException:
            self.written.forget(plan.sid)
            raise
        self.written.keep(_Written(plan.call_id, plan.sid, plan.expected_turn + 1, plan.columns))
        self._apply_staff_notes(plan)
        return twiml

    def _apply_staff_notes(self, plan: _Plan) -> None:
        """What a technician reported in this turn, applied once (the turn was written)."""
        for kind, detail, _step in plan.events:
            if kind == "staff_report":
                staff.record_outcome(
                    self.db,
                    self.clock,
                    detail["call"],
                    detail["outcome"],
                    detail["by"],
                    detail.get("slot"),
                )
            elif kind == "coverage":
                staff.declare_coverage(
                    self.db,
                    self.clock,
                    detail["number"],
                    detail["agency"],
                    detail["hours"],
                    plan.call_id,
                )

    def _facts(self, recording: bool | None = None) -> WorldFacts:
        return WorldFacts(self.db, self.reference, self.settings, self.clock, recording)

    # --- The callee's leg: screening ------------------------------------------------------

    def whisper(self, hook: Webhook, attempt_id: int, stage: str, tries: int) -> str:
        """The callee answered: tell them who needs them; a key takes the call."""
        with self.db.session() as session:
            attempt = session.get(DialAttemptRow, attempt_id, with_for_update=True)
            if attempt is None:
                return self._renderer(default_prompts(), False).declined()
            call = session.get_one(CallRow, attempt.call_id)
            state = CallState.from_dict(call.state)
            renderer = self._renderer(self.reference.prompts(self.db), False)
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
            whisper = whisper_for(state, self._facts(recording=False))
            return renderer.whisper(whisper.says, attempt_id, tries + (stage == "answer"))

    def _columns(
        self, call: Row | _Written, state: CallState, turn: Turn, facts: WorldFacts
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
        with self.db.driver(write=True) as cursor:
            call = _CALL_STATUS.first(cursor, {"sid": hook.call_sid})
            if call is None:
                return
            sequence = _int(hook.get("SequenceNumber"), -1)
            if sequence != -1 and sequence <= call.status_sequence:
                return
            if call.twilio_status in _ENDED and sequence == -1:
                return
            status = hook.get("CallStatus") or call.twilio_status
            ends = status in _ENDED and call.ended_at is None
            if status in _ENDED:
                self.written.forget(hook.call_sid)
            now = self.clock.now()
            _SET_STATUS.execute(
                cursor,
                {
                    "call_id": call.id,
                    "sequence": max(sequence, call.status_sequence),
                    "status": status,
                    "ended_at": now if ends else call.ended_at,
                },
            )
            if ends:
                detail = {"status": status, "step": call.step, "by_caller": call.step != "goodbye"}
                _NEW_EVENT.execute(
                    cursor,
                    {
                        "call_id": call.id,
                        "at": now,
                        "turn": call.turn,
                        "kind": "ended",
                        "detail": detail,
                        "step": call.step,
                    },
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
        return self._renderer(default_prompts(), False).emergency(
            self.settings.EMERGENCY_FORWARD_NUMBER
        )

    def goodbye(self) -> str:
        """Goodbye, needing nothing (the end of the safe path)."""
        return self._renderer(default_prompts(), False).goodbye()

    def callee_safe_answer(self) -> str:
        """The technician's leg when the whisper failed: they are not connected."""
        return self._renderer(default_prompts(), False).declined()

    # --- Helpers ----------------------------------------------------------------------------

    def renderer(self) -> Renderer:
        """A renderer with the prompts in force (the staff's side of the phone)."""
        return self._renderer(self.reference.prompts(self.db), False)

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

    def _call(self, session: Session, sid: str) -> CallRow | None:
        """The call, locked until the end of `session` (on PostgreSQL; on SQLite the whole
        database is, by `Database.session`)."""
        return session.scalar(_CALL_FOR_UPDATE, {"sid": sid})

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


# The statements of every turn, compiled once and run on the driver (ivr.adapters.prepared).
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
_CALL_BY_SID = Prepared(
    select(
        CallRow.id,
        CallRow.sid,
        CallRow.turn,
        CallRow.state,
        CallRow.last_response,
        CallRow.action,
        CallRow.reason,
        CallRow.agency,
    ).where(CallRow.sid == bindparam("sid"))
)
_LAST_RESPONSE = Prepared(select(CallRow.last_response).where(CallRow.id == bindparam("call_id")))
_NEW_CALL = Prepared(
    insert(CallRow).values(**binds("sid", "from_number", "to_number", "started_at", "state"))
)
_NEXT_TURN = Prepared(
    update(CallRow)
    .where(CallRow.id == bindparam("call_id"), CallRow.turn == bindparam("expected"))
    .values(turn=bindparam("next"), last_response=bindparam("twiml"), **binds(*_CALL_COLUMNS))
)
_ATTEMPT_BY_ID = Prepared(
    select(
        DialAttemptRow.id, DialAttemptRow.call_id, DialAttemptRow.role, DialAttemptRow.accepted
    ).where(DialAttemptRow.id == bindparam("attempt_id"))
)
_NEW_ATTEMPT = Prepared(
    insert(DialAttemptRow)
    .values(**binds("call_id", "role", "number", "started_at"))
    .returning(DialAttemptRow.id)
)
_CLOSE_ATTEMPT = Prepared(
    update(DialAttemptRow)
    .where(DialAttemptRow.id == bindparam("attempt_id"))
    .values(
        **binds("ended_at", "outcome", "accepted"),
        leg_sid=func.coalesce(DialAttemptRow.leg_sid, bindparam("leg_sid")),
    )
)
_NEW_EVENT = Prepared(
    insert(CallEventRow).values(**binds("call_id", "at", "turn", "kind", "detail", "step"))
)
_CALL_STATUS = Prepared(
    select(
        CallRow.id,
        CallRow.turn,
        CallRow.step,
        CallRow.twilio_status,
        CallRow.status_sequence,
        CallRow.ended_at,
    )
    .where(CallRow.sid == bindparam("sid"))
    .with_for_update()
)
_SET_STATUS = Prepared(
    update(CallRow)
    .where(CallRow.id == bindparam("call_id"))
    .values(
        status_sequence=bindparam("sequence"),
        twilio_status=bindparam("status"),
        **binds("ended_at"),
    )
)
_CALL_FOR_UPDATE = select(CallRow).where(CallRow.sid == bindparam("sid")).with_for_update()


@dataclass(frozen=True)
class _Written:
    """A call as the turn this process wrote left it: what the next turn reads of it."""

    id: int
    sid: str
    turn: int
    columns: Mapping[str, Any]  # as `CallService._columns` gave them, `state` included

    @property
    def state(self) -> Mapping[str, Any]:
        return self.columns["state"]  # type: ignore[no-any-return]

    @property
    def action(self) -> str | None:
        return self.columns["action"]  # type: ignore[no-any-return]

    @property
    def reason(self) -> str | None:
        return self.columns["reason"]  # type: ignore[no-any-return]

    @property
    def agency(self) -> str | None:
        return self.columns["agency"]  # type: ignore[no-any-return]


class _WrittenCalls:
    """The calls under way as this process last wrote them, by sid (the oldest forgotten
    first). A turn finds its call here when the previous turn was answered by this process,
    as it mostly is (Twilio keeps its connections open), and reads nothing. Safe without any
    invalidation from the other processes: the call is kept with the turn it is at, used
    only by the request for that turn, and the turn's write is guarded by that turn. If
    another process moved the call on meanwhile, the write changes nothing and the request
    is answered as the winner answered it.

    This holds because a turn (`_write`) is the only writer of the columns a turn reads
    (`state`, `action`, `reason`, `agency`) and always moves `turn` on: whatever else changes
    a call (the callee's leg, the status callback, the dispatcher, the back office) writes
    other columns or rows. A change to those columns made outside a turn (a repair by hand)
    must move `turn` on too, or the call's next turn here would write over it."""

    _KEPT = 2_000  # far more calls than are under way at once; a forgotten one is read again

    def __init__(self) -> None:
        self._lock = Lock()
        self._calls: OrderedDict[str, _Written] = OrderedDict()

    def get(self, sid: str, turn: int) -> _Written | None:
        with self._lock:
            call = self._calls.get(sid)
        return call if call is not None and call.turn == turn else None

    def keep(self, call: _Written) -> None:
        with self._lock:
            self._calls[call.sid] = call
            self._calls.move_to_end(call.sid)
            if len(self._calls) > self._KEPT:
                self._calls.popitem(last=False)

    def forget(self, sid: str) -> None:
        with self._lock:
            self._calls.pop(sid, None)


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
    prompts: Prompts = field(default_factory=lambda: default_prompts())
    columns: dict[str, Any] = field(default_factory=dict)
    connect: Connect | None = None
    twiml: str = ""
    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def event(self, event: tuple[str, dict[str, Any], str] | None) -> None:
        if event is not None:
            self.events.append(event)


def _closing(call: Row | _Written, hook: Webhook, attempt: Row | None) -> _Closing | None:
    """The outcome of a call we put through: taken by a person if they pressed the key
    (screened), or, unscreened, if it was answered and lasted."""
    if attempt is None or attempt.call_id != call.id:
        return None
    status = hook.get("DialCallStatus") or "unknown"
    accepted = bool(attempt.accepted)
    if attempt.role not in ("technician", "manager"):
        accepted = status == "completed" and _int(hook.get("DialCallDuration")) > 0
    return _Closing(attempt.id, status, accepted, hook.get("DialCallSid") or None)


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
