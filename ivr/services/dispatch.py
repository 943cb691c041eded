"""The dispatcher (PROCEDURE.md §5.2): what happens around and after a caller's call.

Once a call has ended, `plan_ended_calls` schedules its jobs (`ivr.domain.followup`), in the
same transaction that marks it planned, so each is planned once. The worker then runs them:

- `call_line`: call one line of a chain (technician or manager): a person hears the summary
  and a menu; a voicemail box hears the summary after its beep. Twilio posts the outcome to
  `line_outcome`; not reached, the next line is tried, then the chain again later.
- `sms`: the summary by text message.
- `sheet`: the summary sheet, to one fax number, delivered and tracked.

Every job writes the provider's reference the moment the provider accepted the work, and
looks at it first when it runs again: a job run twice does its work once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.fax import Fax, FaxTransport, make_transport
from ivr.adapters.orm import AlertRow, CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.adapters.sheet import SheetAttempt, SheetData, render_sheet
from ivr.adapters.twilio_rest import UNDER_WAY, TwilioRest
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.model import ONCALL_TYPE_OF_CONTRACT, Agency
from ivr.domain.oncall import local_date, window_at
from ivr.domain.routing import Action
from ivr.domain.triage import Danger, Fault
from ivr.services.calls import WorldFacts
from ivr.services.jobs import (
    Done,
    Job,
    JobQueue,
    Outcome,
    PermanentError,
    TransientError,
    Waiting,
    provider_errors,
)
from ivr.services.reference import ReferenceCache
from ivr.services.staff import coverage_declared, record_outcome
from ivr.settings import Settings
from voice_flows.caller import CallState, summary_values

log = logging.getLogger(__name__)

WAIT_FOR_CALL = timedelta(minutes=3)  # then Twilio is asked how the call went
LONGEST_CALL = timedelta(hours=4, minutes=10)  # Twilio ends every call within four hours
WAIT_FOR_FAX = timedelta(minutes=10)
UNREACHABLE_LIMIT = 2  # "more than 2 consecutive times": the manager is told at the 3rd


@dataclass(frozen=True)
class Request:
    """A caller's call seen from the dispatcher: its row, state and decision."""

    call: CallRow
    state: CallState
    decision: dict[str, Any]


class Dispatcher:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        reference: ReferenceCache,
        rest: TwilioRest | None = None,
        fax: FaxTransport | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.reference = reference
        self.rest = rest
        self.fax = fax
        self.queue = JobQueue(db, clock)

    def handlers(self) -> dict[str, Any]:
        return {"call_line": self.call_line, "sms": self.sms, "sheet": self.sheet}

    # --- Planning -------------------------------------------------------------------------

    def plan_ended_calls(self) -> int:
        """Plan the jobs of the calls that ended since last time, each call on its own (one
        that cannot be planned raises an alert and never holds up the others); how many."""
        now = self.clock.now()
        self._end_forgotten_calls(now)
        with self.db.snapshot() as session:
            ids = session.scalars(
                select(CallRow.id)
                .where(CallRow.ended_at.is_not(None), CallRow.followed_up_at.is_(None))
                .order_by(CallRow.id)
                .limit(50)
            ).all()
        for call_id in ids:
            try:
                with self.db.session() as session:
                    self._plan(session, session.get_one(CallRow, call_id), now)
            except Exception as error:
                log.exception("call %s could not be planned", call_id)
                with self.db.session() as session:
                    call = session.get_one(CallRow, call_id)
                    call.followed_up_at = now
                    self._alert(
                        session,
                        "planning_failed",
                        f"call {call.sid}: nothing planned ({type(error).__name__}); "
                        "see to its technician, manager and sheet by hand",
                    )
        return len(ids)

    def _plan(self, session: Session, call: CallRow, now: datetime) -> None:
        if call.followed_up_at is not None:
            return  # planned meanwhile by another worker
        request = self._request(session, call)
        taken = self._taken_in_call(session, call)
        if taken and call.reached is None:
            call.reached = taken  # the whisper's key came before the dial's outcome
        ended = followup.EndedCall(
            call_id=call.id,
            ended_at=now,
            action=call.action,
            call_at=_instant(request.decision.get("call_at")),
            call_numbers=tuple(request.decision.get("call_numbers", ())),
            fax_numbers=tuple(request.decision.get("fax_numbers", ())),
            reached=call.reached is not None,
            national_duty_number=self.settings.NATIONAL_DUTY_NUMBER,
            reached_by=call.reached,
        )
        jobs = followup.follow_up(ended)
        for job in jobs:
            self.queue.schedule(session, job.kind, job.key, job.due_at, call.id, job.payload)
        if call.action == Action.ESCALATE.value and not any(j.kind == "sms" for j in jobs):
            self._alert(session, "nobody_to_escalate_to", f"call {call.sid}: danger, nobody")
        if call.action == Action.CALL_NOW.value and call.reached is None:
            tried = {
                a for (a,) in session.execute(_DIALED.where(DialAttemptRow.call_id == call.id))
            }
            if set(ended.call_numbers) <= tried:  # every line tried while the caller waited
                self._line_unreachable(session, call, now)
        call.followed_up_at = now

    def _end_forgotten_calls(self, now: datetime) -> None:
        """A call whose end Twilio never reported (a lost status callback) is taken as ended
        once it is older than any call can last, so that it is followed up all the same."""
        with self.db.snapshot() as session:
            ids = session.scalars(
                select(CallRow.id).where(
                    CallRow.ended_at.is_(None), CallRow.started_at < now - LONGEST_CALL
                )
            ).all()
        for call_id in ids:
            with self.db.session() as session:
                call = session.get_one(CallRow, call_id)
                if call.ended_at is None:
                    call.ended_at = now
                    self._event(session, call.id, "ended", {"status": "never reported"})

    @staticmethod
    def _taken_in_call(session: Session, call: CallRow) -> str | None:
        return session.scalar(
            select(DialAttemptRow.number)
            .where(DialAttemptRow.call_id == call.id, DialAttemptRow.accepted.is_(True))
            .limit(1)
        )

    # --- §5.2: the unreachable technician --------------------------------------------------

    def _line_unreachable(self, session: Session, call: CallRow, now: datetime) -> None:
        """One "time" (§5.2): every line of the request was tried and nobody took it. At the
        third in a row in one on-call period, and at every one after, the regional manager
        on duty is called and texted the waiting requests."""
        self._event(session, call.id, "line_unreachable", {})
        session.flush()
        period = self._period(call)
        if period is None:
            return
        agency, start, end = period
        requests = session.execute(
            select(CallRow.id, CallRow.started_at, CallRow.reached, CallRow.state)
            .where(
                CallRow.agency == agency.cia,
                CallRow.action == Action.CALL_NOW.value,
                CallRow.started_at >= start,
                CallRow.started_at < end,
            )
            .order_by(CallRow.started_at, CallRow.id)
        ).all()
        counted = set(
            session.scalars(
                select(CallEventRow.call_id).where(
                    CallEventRow.call_id.in_([r.id for r in requests]),
                    CallEventRow.kind == "line_unreachable",
                )
            )
        )
        streak = followup.unreachable_streak(
            [
                followup.LineRequest(r.id, r.started_at, r.reached is not None, r.id in counted)
                for r in requests
            ]
        )
        if len(streak) <= UNREACHABLE_LIMIT:
            return
        if coverage_declared(self.db, agency.cia, now):  # §6 NOTA: the technician warned us
            self._event(session, call.id, "escalation_suspended", {"times": len(streak)})
            return
        self._event(session, call.id, "technician_unreachable", {"times": len(streak)})
        self._escalate_unreachable(session, call, agency, streak, now)

    def _period(self, call: CallRow) -> tuple[Agency, datetime, datetime] | None:
        """The on-call period (window instance) a request fell in, by the directory in force."""
        directory = self.reference.directory(self.db)
        agency = directory.agencies.get(call.agency or "")
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        if agency is None or client is None:
            return None
        oncall_type = ONCALL_TYPE_OF_CONTRACT.get(
            client.effective_contract(local_date(call.started_at))
        )
        if oncall_type is None:  # the contract changed since: no period to count in
            return None
        windows = directory.windows_for(agency.cia, oncall_type)
        period = window_at(windows, call.started_at, agency.department)
        return (agency, period.start, period.end) if period else None

    def _escalate_unreachable(
        self,
        session: Session,
        call: CallRow,
        agency: Agency,
        streak: list[followup.LineRequest],
        now: datetime,
    ) -> None:
        directory = self.reference.directory(self.db)
        managers = [s.mobile for s in directory.managers_on_duty(agency.region, now)]
        chain = tuple(
            dict.fromkeys([*managers, *filter(None, [self.settings.NATIONAL_DUTY_NUMBER])])
        )
        if not chain:
            self._alert(session, "no_manager", f"agency {agency.cia}: nobody to escalate to")
            return
        purpose = f"unreachable-{call.id}"
        count = str(len(streak))
        payload = followup.call_line(call.id, "manager", chain, now, purpose).payload
        payload["unreachable"] = {"agency": agency.name, "count": count}
        self.queue.schedule(
            session, "call_line", f"call:{call.id}:{purpose}", now, call.id, payload
        )
        waiting = "; ".join(self._waiting_line(session, r.call_id) for r in streak)
        values = {"agency": agency.name, "count": count, "requests": waiting}
        sms = {"to": chain[0], "role": "unreachable", "values": values}
        self.queue.schedule(session, "sms", f"sms:{call.id}:{purpose}", now, call.id, sms)

    def _waiting_line(self, session: Session, call_id: int) -> str:
        """One waiting request, as the manager's text message lists it."""
        request = self._request(session, session.get_one(CallRow, call_id))
        values = self.summary(request, spoken=False)
        return f"réf. {call_id} {values['city']}, {values['fault']}, {values['phone']}"

    # --- Calling a line -------------------------------------------------------------------

    def call_line(self, job: Job) -> Outcome:
        request = self._load(job)
        if request.call.reached is not None and job.payload["role"] == "technician":
            return Done("not_needed")  # someone took it meanwhile
        rest, caller_id = self._rest()
        number = job.payload["numbers"][job.payload["index"]]
        reference = job.provider_ref or self._placed_unrecorded(job, rest, number, caller_id)
        if reference is not None:
            with provider_errors():
                outcome = rest.call_outcome(reference)
            if outcome.status in UNDER_WAY:
                return Waiting(self.clock.now() + WAIT_FOR_CALL)
            return Done(self.line_outcome(job.id, outcome.status, outcome.answered_by))
        # Noted before the request: if the answer never comes back, the call may exist.
        self.queue.note(job, placing_since=self.clock.now().isoformat())
        try:
            with provider_errors():
                sid = rest.place_call(
                    number,
                    caller_id,
                    self._url("/twilio/outbound/answer", job.id),
                    self._url("/twilio/outbound/status", job.id),
                )
        except TransientError as error:
            if not error.maybe_done:  # Twilio answered: no call was placed
                self.queue.note(job, placing_since=None)
            raise
        self.queue.record_ref(job, sid)
        with self.db.session() as session:
            self._event(
                session, request.call.id, "line_called", {"number": number, "sid": sid}, job.id
            )
        return Waiting(self.clock.now() + WAIT_FOR_CALL)

    def _placed_unrecorded(
        self, job: Job, rest: TwilioRest, number: str, caller_id: str
    ) -> str | None:
        """A call this job placed before it stopped, without recording it: asked of Twilio
        (calls to that number since then, not held by another job)."""
        since = _instant(job.payload.get("placing_since"))
        if since is None:
            return None
        with provider_errors():
            placed = rest.find_calls(number, caller_id, since)
        for sid in placed:
            with self.db.snapshot() as session:
                held = session.scalar(select(JobRow.id).where(JobRow.provider_ref == sid))
            if held is None:
                self.queue.record_ref(job, sid)
                return sid
        return None

    def line_outcome(
        self, job_id: int, status: str, answered_by: str | None, call_sid: str | None = None
    ) -> str:
        """How a call to a line went (Twilio's status callback, or asked): reached (the
        person pressed 2 or 3), a voicemail box, not taken, not answered; what follows.
        Applied once."""
        with self.db.session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.status not in ("running", "waiting"):
                return row.outcome or "" if row else ""
            if call_sid and row.provider_ref and call_sid != row.provider_ref:
                return ""  # about another call than this job's
            payload = dict(row.payload)
            number = payload["numbers"][payload["index"]]
            machine = bool(answered_by and answered_by.startswith(("machine", "fax")))
            if status == "completed" and payload.get("taken"):
                outcome = "reached"
            elif status == "completed":
                outcome = "voicemail" if machine else "not_taken"
            else:
                outcome = status or "failed"
            row.status, row.outcome, row.done_at = "done", outcome, self.clock.now()
            row.lease_until = None
            assert row.call_id is not None
            self._event(session, row.call_id, f"line_{outcome}", {"number": number}, job_id)
            if outcome == "reached":
                self._reached(session, row.call_id, payload, number)
            else:
                self._not_reached(session, row.call_id, payload)
            return outcome

    def job_failed(self, job: Job, error: str) -> None:
        """A job given up (the worker's `on_failed`): a line that could not be called is not
        reached, and its chain goes on (the next line, the sheet) all the same."""
        if job.kind != "call_line" or job.call_id is None:
            return
        with self.db.session() as session:
            number = job.payload["numbers"][job.payload["index"]]
            self._event(session, job.call_id, "line_failed", {"number": number}, job.id)
            self._not_reached(session, job.call_id, dict(job.payload))

    def taken(self, job_id: int, how: str) -> None:
        """The person called took the request in hand (2), was put through (3), or reported
        what came of it (4, then an outcome): reached. As on the staff's side of the
        number, it goes on the request's trace and cancels what else was to reach someone."""
        with self.db.session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.call_id is None:
                return
            row.payload = {**row.payload, "taken": how}
            number = row.payload["numbers"][row.payload["index"]]
            call_id = row.call_id
            self._event(session, call_id, how, {"role": row.payload["role"]}, job_id)
        outcome = "acknowledged" if how in ("acknowledged", "put_through") else how
        record_outcome(self.db, self.clock, call_id, outcome, number, keep_job=job_id)

    def dealt_with(self, call_id: int, by: str) -> int:
        """Someone took the request in hand (a technician called back, a manager took over):
        what was still to be done to reach them is cancelled; the number of jobs cancelled."""
        with self.db.session() as session:
            call = session.get_one(CallRow, call_id)
            call.reached = call.reached or by
            return self.queue.cancel(session, call_id, ("call_line", "sms"), "dealt with")

    def _reached(
        self, session: Session, call_id: int, payload: dict[str, Any], number: str
    ) -> None:
        call = session.get_one(CallRow, call_id)
        if payload["role"] == "technician" and call.reached is None:
            call.reached = number  # a reach resets the unreachable count
        if payload["purpose"] == "request":
            self._sheets(session, call)

    def _not_reached(self, session: Session, call_id: int, payload: dict[str, Any]) -> None:
        now = self.clock.now()
        retry_at = now + timedelta(minutes=self.settings.DISPATCH_RETRY_MINUTES)
        rounds = self.settings.DISPATCH_ROUNDS
        following = followup.next_in_chain(call_id, payload, now, retry_at, rounds)
        call = session.get_one(CallRow, call_id)
        end_of_round = following is None or following.payload["index"] == 0
        first_round_over = payload["round"] == 1 and end_of_round
        if (
            payload["purpose"] == "request"
            and first_round_over
            and not self._counted(session, call_id)
        ):
            self._line_unreachable(session, call, now)  # every line tried: one "time"
        if following is not None:
            extra = {k: v for k, v in payload.items() if k not in following.payload}
            extra.pop("placing_since", None)
            extra.pop("taken", None)
            self.queue.schedule(
                session,
                following.kind,
                following.key,
                following.due_at,
                call_id,
                {**following.payload, **extra},
            )
            return
        if payload["purpose"] == "request":
            self._sheets(session, call)  # the outcome is known: nobody was reached
        elif payload["role"] == "manager":
            self._alert(session, "manager_unreached", f"call {call.sid}: nobody of the chain")
        else:  # the morning's call: the agency has the sheet, but nobody has the request
            self._alert(session, "technician_unreached", f"call {call.sid}: next-morning call")

    @staticmethod
    def _counted(session: Session, call_id: int) -> bool:
        return (
            session.scalar(
                select(CallEventRow.id).where(
                    CallEventRow.call_id == call_id, CallEventRow.kind == "line_unreachable"
                )
            )
            is not None
        )

    def _sheets(self, session: Session, call: CallRow) -> None:
        request = self._request(session, call)
        faxes = tuple(request.decision.get("fax_numbers", ()))
        for job in followup.sheets(call.id, faxes, self.clock.now()):
            self.queue.schedule(session, job.kind, job.key, job.due_at, call.id, job.payload)

    # --- Text messages --------------------------------------------------------------------

    def sms(self, job: Job) -> Outcome:
        if job.provider_ref is not None:
            return Done("sent")  # sent before the worker stopped
        request = self._load(job)
        rest, caller_id = self._rest()
        to = job.payload["to"]
        since = _instant(job.payload.get("sending_since"))
        if since is not None:  # sent before, perhaps, by a run that stopped: ask Twilio
            with provider_errors():
                sent_before = rest.find_messages(to, caller_id, since)
            for sid in sent_before:
                with self.db.snapshot() as session:
                    held = session.scalar(select(JobRow.id).where(JobRow.provider_ref == sid))
                if held is None:
                    self.queue.record_ref(job, sid)
                    return Done("sent")
        prompts = self.reference.prompts(self.db)
        role = job.payload["role"]
        values = job.payload.get("values") or self.summary(request, spoken=False)
        body = prompts.text(f"sms_{role}", values)
        self.queue.note(job, sending_since=self.clock.now().isoformat())
        try:
            with provider_errors():
                sent = rest.send_sms(to, caller_id, body)
        except TransientError as error:
            if not error.maybe_done:  # Twilio answered: nothing was sent
                self.queue.note(job, sending_since=None)
            raise
        self.queue.record_ref(job, sent)
        return Done("sent")

    # --- Summary sheets -------------------------------------------------------------------

    def sheet(self, job: Job) -> Outcome:
        if self.fax is None:
            raise PermanentError("no fax transport configured")
        if job.provider_ref is not None:
            return self._fax_status(job, job.provider_ref)
        request = self._load(job)
        # The same name when the job runs again (a transport may drop the duplicate); a new
        # one when the provider failed to deliver the last.
        name = f"{request.call.sid}-sheet-{job.id}-{job.payload.get('resends', 0)}"
        fax = Fax(job.payload["to"], name, self.sheet_pdf(request.call.id), request.call.sid)
        with provider_errors():
            reference = self.fax.send(fax)
        self.queue.record_ref(job, reference)
        return self._fax_status(job, reference)

    def _fax_status(self, job: Job, reference: str) -> Outcome:
        assert self.fax is not None
        with provider_errors():
            status = self.fax.status(reference)
        if status == "completed":
            return Done("delivered")
        if status == "failed":
            self.queue.forget_ref(job)  # send it again, later
            raise TransientError("the fax provider could not deliver the sheet")
        return Waiting(self.clock.now() + WAIT_FOR_FAX)

    def fax_outcome(self, reference: str, status: str) -> bool:
        """The fax provider's delivery report (its callback): the sheet is delivered, or is
        sent again. False when no sheet waits for that fax."""
        with self.db.session() as session:
            row = session.scalars(
                select(JobRow).where(
                    JobRow.kind == "sheet",
                    JobRow.provider_ref == reference,
                    JobRow.status.in_(("pending", "running", "waiting")),
                )
            ).first()
            if row is None:
                return False
            now = self.clock.now()
            if status == "completed":
                row.status, row.outcome, row.done_at, row.lease_until = (
                    "done",
                    "delivered",
                    now,
                    None,
                )
            elif status == "failed":
                row.payload = {**row.payload, "resends": int(row.payload.get("resends", 0)) + 1}
                row.provider_ref, row.status, row.due_at, row.lease_until = (
                    None,
                    "pending",
                    now,
                    None,
                )
                row.last_error = "the fax provider could not deliver the sheet"
            row.updated_at = now
            return True

    def sheet_pdf(self, call_id: int) -> bytes:
        with self.db.snapshot() as session:
            call = session.get_one(CallRow, call_id)
            request = self._request(session, call)
            attempts = session.scalars(
                select(DialAttemptRow).where(DialAttemptRow.call_id == call_id)
            ).all()
            lines = session.scalars(
                select(JobRow).where(JobRow.call_id == call_id, JobRow.kind == "call_line")
            ).all()
            voicemail = any(j.outcome == "voicemail" for j in lines)
            reported = session.scalar(
                select(CallEventRow.detail)
                .where(CallEventRow.call_id == call_id, CallEventRow.kind == "staff_outcome")
                .order_by(CallEventRow.id.desc())
                .limit(1)
            )
            data = self._sheet_data(request, attempts, lines, voicemail)
            if reported and reported.get("outcome") != "acknowledged":
                said = reported.get("label", reported.get("outcome", ""))
                slot = f", {reported['slot']}" if reported.get("slot") else ""
                data = replace(data, follow_up=f"{said}{slot}", title_suffix=" — suite donnée")
            return render_sheet(data)

    def _sheet_data(
        self,
        request: Request,
        attempts: Any,
        lines: Any,
        voicemail: bool,
    ) -> SheetData:
        call, state = request.call, request.state
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        tried = [
            SheetAttempt(a.number, a.role, a.started_at, a.outcome or "", a.accepted)
            for a in attempts
        ] + [
            SheetAttempt(
                j.payload["numbers"][j.payload["index"]],
                j.payload["role"],
                j.updated_at,
                j.outcome or j.status,
                j.outcome == "reached",
            )
            for j in lines
            if j.status in ("done", "waiting")
        ]
        next_morning = next(
            (j.due_at for j in lines if j.payload.get("purpose") == "next_morning"), None
        )
        return SheetData(
            reference=f"{call.id}",
            received_at=call.started_at,
            client_id=call.client_id,
            client_name=client.name if client else None,
            address=client.address if client else None,
            postcode=client.postcode if client else state.postcode,
            city=client.city if client else None,
            phones=tuple(filter(None, [client.phone, client.phone2])) if client else (),
            callback_number=state.callback or state.caller,
            equipment=summary_values(state, self._facts())["equipment"] if client else None,
            contract=client.contract.value if client else None,
            delay=client.delay_label if client else None,
            fault=Fault(state.fault).label if state.fault else None,
            caller_words=state.description,
            danger=Danger(state.danger).label if state.danger else None,
            action=call.action or "not_covered",
            reason=call.reason or "",
            reached=call.reached is not None,
            reached_by=call.reached,
            attempts=tuple(sorted(tried, key=lambda a: a.at)),
            next_morning_at=next_morning,
            message_left=call.message_seconds > 0,
            message_seconds=call.message_seconds,
            voicemail_message_left=voicemail,
            agency=call.agency,
        )

    # --- What a technician or a manager is told -------------------------------------------

    def summary(self, request: Request, spoken: bool = True) -> dict[str, str]:
        """What a technician or a manager is told of a request; the reference read digit by
        digit when `spoken`."""
        values = summary_values(request.state, self._facts())
        reference = str(request.call.id)
        values["reference"] = " ".join(reference) if spoken else reference
        return values

    def request_of_job(self, job_id: int) -> tuple[JobRow, Request] | None:
        with self.db.snapshot() as session:
            row = session.get(JobRow, job_id)
            if row is None or row.call_id is None:
                return None
            return row, self._request(session, session.get_one(CallRow, row.call_id))

    def note(self, job_id: int, kind: str, detail: dict[str, Any]) -> None:
        """Something the callee did on a dispatcher's call (acknowledged, put through)."""
        with self.db.session() as session:
            row = session.get(JobRow, job_id)
            if row is not None and row.call_id is not None:
                self._event(session, row.call_id, kind, detail, job_id)

    # --- Helpers --------------------------------------------------------------------------

    def _load(self, job: Job) -> Request:
        if job.call_id is None:
            raise PermanentError("a dispatcher job without its call")
        with self.db.snapshot() as session:
            return self._request(session, session.get_one(CallRow, job.call_id))

    @staticmethod
    def _request(session: Session, call: CallRow) -> Request:
        decision = session.scalar(
            select(CallEventRow.detail)
            .where(CallEventRow.call_id == call.id, CallEventRow.kind == "decision")
            .order_by(CallEventRow.id.desc())
            .limit(1)
        )
        return Request(call, CallState.from_dict(call.state), dict(decision or {}))

    def _facts(self) -> WorldFacts:
        return WorldFacts(self.db, self.reference, self.settings, self.clock, recording_calls=False)

    def _rest(self) -> tuple[TwilioRest, str]:
        if self.rest is None or not self.settings.IVR_CALLER_ID:
            raise PermanentError("Twilio is not configured (TWILIO_ACCOUNT_SID, IVR_CALLER_ID)")
        return self.rest, self.settings.IVR_CALLER_ID

    def _url(self, path: str, job_id: int) -> str:
        return f"{self.settings.PUBLIC_BASE_URL}{path}?job={job_id}"

    def _event(
        self,
        session: Session,
        call_id: int,
        kind: str,
        detail: dict[str, Any],
        job_id: int | None = None,
    ) -> None:
        call = session.get_one(CallRow, call_id)
        session.add(
            CallEventRow(
                call_id=call_id,
                at=self.clock.now(),
                turn=call.turn,
                step="dispatch",
                kind=kind,
                detail={**detail, **({"job": job_id} if job_id else {})},
            )
        )

    def _alert(self, session: Session, kind: str, message: str) -> None:
        log.error("alert %s: %s", kind, message)
        session.add(AlertRow(at=self.clock.now(), kind=kind, message=message))


_DIALED = select(DialAttemptRow.number)


def _instant(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def fax_callback_token(settings: Settings) -> str | None:
    """What the fax provider's callback URL carries to be believed (it signs nothing):
    derived from SECRET_KEY, so that every process agrees; none without one."""
    if not settings.SECRET_KEY:
        return None
    digest = hmac.new(settings.SECRET_KEY.encode(), b"fax-callback", hashlib.sha256)
    return digest.hexdigest()[:32]


def make_dispatcher(db: Database, settings: Settings, clock: Clock | None = None) -> Dispatcher:
    """The worker's dispatcher: Twilio's REST API when the account is configured, and the
    fax transport of FAX_TRANSPORT (reporting deliveries to /fax/status when SECRET_KEY is
    set; else the worker asks the provider)."""
    token = fax_callback_token(settings)
    callback = f"{settings.PUBLIC_BASE_URL}/fax/status?token={token}" if token else None
    rest = (
        TwilioRest(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL
        )
        if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
        else None
    )
    return Dispatcher(
        db,
        settings,
        clock or settings.make_clock(),
        ReferenceCache(),
        rest,
        make_transport(settings, callback),
    )
