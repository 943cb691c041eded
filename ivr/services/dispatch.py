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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.fax import (
    Fax,
    FaxTransport,
    PermanentFaxError,
    TransientFaxError,
    make_transport,
)
from ivr.adapters.orm import AlertRow, CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.adapters.sheet import SheetAttempt, SheetData, render_sheet
from ivr.adapters.twilio_rest import UNDER_WAY, TwilioRest
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.model import ONCALL_TYPE_OF_CONTRACT
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
)
from ivr.services.reference import ReferenceCache
from ivr.settings import Settings
from voice_flows.caller import CallState, summary_values

log = logging.getLogger(__name__)

WAIT_FOR_CALL = timedelta(minutes=15)  # then Twilio is asked how the call went
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
        """Plan the jobs of the calls that ended since last time; how many calls."""
        now = self.clock.now()
        with self.db.session() as session:
            calls = session.scalars(
                select(CallRow)
                .where(CallRow.ended_at.is_not(None), CallRow.followed_up_at.is_(None))
                .order_by(CallRow.id)
                .limit(50)
            ).all()
            for call in calls:
                request = self._request(session, call)
                ended = followup.EndedCall(
                    call_id=call.id,
                    ended_at=now,
                    action=call.action,
                    call_at=_instant(request.decision.get("call_at")),
                    call_numbers=tuple(request.decision.get("call_numbers", ())),
                    fax_numbers=tuple(request.decision.get("fax_numbers", ())),
                    reached=call.reached is not None,
                    national_duty_number=self.settings.NATIONAL_DUTY_NUMBER,
                )
                for job in followup.follow_up(ended):
                    self.queue.schedule(
                        session, job.kind, job.key, job.due_at, call.id, job.payload
                    )
                if call.action == Action.CALL_NOW.value and call.reached is None:
                    self._unreachable_technician(session, call, now)
                call.followed_up_at = now
        return len(calls)

    def _unreachable_technician(self, session: Session, call: CallRow, now: datetime) -> None:
        """§5.2: the line of an agency not taken more than twice in a row in one on-call
        period: the regional manager on duty is called, and texted the waiting requests."""
        directory = self.reference.directory(self.db)
        agency = directory.agencies.get(call.agency or "")
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        if agency is None or client is None:
            return
        contract = client.effective_contract(local_date(call.started_at))
        windows = directory.windows_for(agency.cia, ONCALL_TYPE_OF_CONTRACT[contract])
        period = window_at(windows, call.started_at, agency.department)
        if period is None:
            return
        requests = session.execute(
            select(CallRow.id, CallRow.started_at, CallRow.reached)
            .where(
                CallRow.agency == agency.cia,
                CallRow.action == Action.CALL_NOW.value,
                CallRow.ended_at.is_not(None),
                CallRow.started_at >= period.start,
                CallRow.started_at < period.end,
            )
            .order_by(CallRow.started_at, CallRow.id)
        ).all()
        streak = followup.unreachable_streak(
            [followup.LineRequest(r.id, r.started_at, r.reached is not None) for r in requests]
        )
        if len(streak) <= UNREACHABLE_LIMIT:
            return
        managers = [s.mobile for s in directory.managers_on_duty(agency.region, now)]
        chain = tuple(
            dict.fromkeys([*managers, *filter(None, [self.settings.NATIONAL_DUTY_NUMBER])])
        )
        purpose = f"unreachable-{agency.cia}-{streak[0].call_id}"
        self._event(session, call.id, "technician_unreachable", {"times": len(streak)})
        if not chain:
            self._alert(session, "no_manager", f"agency {agency.cia}: nobody to escalate to")
            return
        self.queue.schedule(
            session,
            "call_line",
            f"call:{purpose}",  # once for the streak, whichever call made it reach the limit
            now,
            call.id,
            {
                "role": "manager",
                "numbers": list(chain),
                "index": 0,
                "round": 1,
                "purpose": purpose,
                "unreachable": {"agency": agency.name, "count": len(streak)},
            },
        )
        waiting = ", ".join(f"réf. {r.call_id}" for r in streak)
        self.queue.schedule(
            session,
            "sms",
            f"sms:{purpose}",
            now,
            call.id,
            {
                "to": chain[0],
                "role": "unreachable",
                "values": {"agency": agency.name, "count": str(len(streak)), "requests": waiting},
            },
        )

    # --- Calling a line -------------------------------------------------------------------

    def call_line(self, job: Job) -> Outcome:
        request = self._load(job)
        if request.call.reached is not None and job.payload["role"] == "technician":
            return Done("not_needed")  # someone took it meanwhile
        rest, caller_id = self._rest()
        number = job.payload["numbers"][job.payload["index"]]
        reference = job.provider_ref
        if reference is None and job.attempts > 1:
            # Run before and stopped: the call may have been placed without being recorded.
            reference = rest.find_call(number, caller_id, job.due_at)
            if reference is not None:
                self.queue.record_ref(job, reference)
        if reference is not None:
            outcome = rest.call_outcome(reference)
            if outcome.status in UNDER_WAY:
                return Waiting(self.clock.now() + WAIT_FOR_CALL)
            return Done(self.line_outcome(job.id, outcome.status, outcome.answered_by))
        sid = rest.place_call(
            number,
            caller_id,
            self._url("/twilio/outbound/answer", job.id),
            self._url("/twilio/outbound/status", job.id),
        )
        self.queue.record_ref(job, sid)
        with self.db.session() as session:
            self._event(
                session, request.call.id, "line_called", {"number": number, "sid": sid}, job.id
            )
        return Waiting(self.clock.now() + WAIT_FOR_CALL)

    def line_outcome(self, job_id: int, status: str, answered_by: str | None) -> str:
        """How a call to a line went (Twilio's status callback, or asked): reached, a
        voicemail box, or not answered; what follows. Applied once."""
        with self.db.session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.status not in ("running", "waiting"):
                return row.outcome or "" if row else ""
            job_payload = dict(row.payload)
            number = job_payload["numbers"][job_payload["index"]]
            machine = bool(answered_by and answered_by.startswith(("machine", "fax")))
            if status == "completed" and not machine:
                outcome = "reached"
            elif status == "completed":
                outcome = "voicemail"
            else:
                outcome = status or "failed"
            row.status, row.outcome, row.done_at = "done", outcome, self.clock.now()
            row.lease_until = None
            assert row.call_id is not None
            self._event(session, row.call_id, f"line_{outcome}", {"number": number}, job_id)
            if outcome == "reached":
                self._reached(session, row, number)
            else:
                self._not_reached(session, row, job_payload)
            return outcome

    def _reached(self, session: Session, row: JobRow, number: str) -> None:
        assert row.call_id is not None
        call = session.get_one(CallRow, row.call_id)
        if row.payload["role"] == "technician" and call.reached is None:
            call.reached = number  # a reach resets the unreachable count
        if row.payload["purpose"] == "request":
            self._sheets(session, call)

    def _not_reached(self, session: Session, row: JobRow, payload: dict[str, Any]) -> None:
        assert row.call_id is not None
        now = self.clock.now()
        retry_at = now + timedelta(minutes=self.settings.DISPATCH_RETRY_MINUTES)
        following = followup.next_in_chain(
            row.call_id, payload, now, retry_at, self.settings.DISPATCH_ROUNDS
        )
        if following is not None:
            extra = {k: v for k, v in payload.items() if k not in following.payload}
            self.queue.schedule(
                session,
                following.kind,
                following.key,
                following.due_at,
                row.call_id,
                {**following.payload, **extra},
            )
            return
        call = session.get_one(CallRow, row.call_id)
        if payload["purpose"] == "request":
            self._sheets(session, call)  # the outcome is known: nobody was reached
        if payload["role"] == "manager":
            self._alert(session, "manager_unreached", f"call {call.sid}: nobody of the chain")

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
        if job.attempts > 1:  # run before and stopped: it may have been sent, unrecorded
            sent = rest.find_message(job.payload["to"], caller_id, job.due_at)
            if sent is not None:
                self.queue.record_ref(job, sent)
                return Done("sent")
        prompts = self.reference.prompts(self.db)
        role = job.payload["role"]
        values = job.payload.get("values") or self.summary(request)
        body = prompts.text(f"sms_{role}", values)
        self.queue.record_ref(job, rest.send_sms(job.payload["to"], caller_id, body))
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
        with _fax_errors():
            reference = self.fax.send(fax)
        self.queue.record_ref(job, reference)
        return self._fax_status(job, reference)

    def _fax_status(self, job: Job, reference: str) -> Outcome:
        assert self.fax is not None
        with _fax_errors():
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
            return render_sheet(self._sheet_data(request, attempts, lines, voicemail))

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

    def summary(self, request: Request) -> dict[str, str]:
        values = summary_values(request.state, self._facts())
        values["reference"] = " ".join(str(request.call.id))
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


@contextmanager
def _fax_errors() -> Iterator[None]:
    """The fax transports' failures, as the job queue's."""
    try:
        yield
    except TransientFaxError as error:
        raise TransientError(str(error)) from error
    except PermanentFaxError as error:
        raise PermanentError(str(error)) from error


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
