"""The dispatcher (docs/procedure.md §5.2): what happens around and after a caller's call.

Once a call has ended, `plan_ended_calls` schedules its jobs (`ivr.domain.followup`), in the
same transaction that marks it planned, so each is planned once. The worker then runs them:

- `call_line`: call one line of a chain (technician or manager); what they hear and key is
  the dispatcher's call flow (`voice_flows.dispatch_call`, answered by `services.callee`).
  Twilio posts how the call went to `line_outcome`: not reached, the next line is tried, then
  the chain again later; a third unreachable time in an on-call period raises the manager.
- `sms`: the summary by text message to a technician or a manager; the client's
  confirmation and news (`ivr.services.caller_texts`).
- `sheet`: the summary sheet (`ivr.services.sheets`).

Every job writes the provider's reference the moment the provider accepted the work, and
looks at it first when it runs again: a job run twice does its work once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters import metrics
from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.adapters.twilio_rest import UNDER_WAY, TwilioRest
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.routing import Action
from ivr.services import caller_texts, calling_again
from ivr.services.calls import CALLER_GONE
from ivr.services.jobs import (
    Done,
    Job,
    JobOutcome,
    JobQueue,
    PermanentError,
    TransientError,
    Waiting,
    provider_errors,
)
from ivr.services.pacing import CallPacing
from ivr.services.records import record_of, text_values
from ivr.services.reference import ReferenceCache
from ivr.services.sheets import Sheets, make_sheets, plan_follow_up, plan_request_sheets
from ivr.services.trace import add_event, record_alert
from ivr.services.unreachable import Unreachable
from ivr.settings import Settings

log = logging.getLogger(__name__)

WAIT_FOR_CALL = timedelta(minutes=3)  # then Twilio is asked how the call went


@dataclass
class Dispatcher:
    db: Database
    settings: Settings
    clock: Clock
    reference: ReferenceCache
    rest: TwilioRest | None  # none configured: every call and text fails, visibly
    sheets: Sheets
    pacing: CallPacing

    @property
    def queue(self) -> JobQueue:
        return self.sheets.queue

    @property
    def unreachable(self) -> Unreachable:
        return Unreachable(self.db, self.settings, self.clock, self.reference, self.queue)

    def handlers(self) -> dict[str, Callable[[Job], JobOutcome]]:
        return {"call_line": self.call_line, "sms": self.sms, "sheet": self.sheets.send}

    # --- Planning -------------------------------------------------------------------------

    def plan_ended_calls(self) -> int:
        """Plan the jobs of the callers' calls that ended since last time, each on its own (one
        that cannot be planned raises an alert and never holds up the others); how many."""
        now = self.clock.now()
        with self.db.snapshot() as session:
            ids = session.scalars(
                select(CallRow.id)
                .where(
                    CallRow.flow == "caller",
                    CallRow.ended_at.is_not(None),
                    CallRow.followed_up_at.is_(None),
                )
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
                    why = (
                        f"call {call.sid}: nothing planned ({type(error).__name__}); "
                        "see to its technician, manager and sheet by hand"
                    )
                    record_alert(session, now, "planning_failed", why)
        return len(ids)

    def _plan(self, session: Session, call: CallRow, now: datetime) -> None:
        if call.followed_up_at is not None:
            return  # planned meanwhile by another worker
        decision = record_of(session, call).decision
        taken = session.scalar(
            select(DialAttemptRow.number)
            .where(DialAttemptRow.call_id == call.id, DialAttemptRow.accepted.is_(True))
            .limit(1)
        )
        if taken and call.reached is None:
            call.reached = taken  # the whisper's key came before the dial's outcome
        agency = self.reference.directory(self.db).agencies.get(call.agency or "")
        ended = followup.EndedCall(
            call_id=call.id,
            ended_at=now,
            action=call.action,
            call_at=_instant(decision.get("call_at")),
            call_numbers=tuple(decision.get("call_numbers", ())),
            fax_numbers=tuple(decision.get("fax_numbers", ())),
            reached=call.reached is not None,
            national_duty_number=self.settings.NATIONAL_DUTY_NUMBER,
            reached_by=call.reached,
            agency_fax=agency.fax if agency else None,
        )
        jobs: list[followup.Planned] = []
        if call.request_id is None:
            jobs = followup.follow_up(ended)
            self._schedule(session, call.id, jobs)
            if self.settings.CALLER_TEXTS and call.action in calling_again.FOLLOWED:
                caller_texts.plan_confirmation(session, self.queue, call, now)
        else:  # it added to a request in progress: what it changed, on that request
            retry_at = now + timedelta(minutes=self.settings.DISPATCH_RETRY_MINUTES)
            calling_again.plan_addition(session, self.queue, call, ended.call_numbers, retry_at)
        metrics.count_call(call.action, call.danger is not None)
        if call.action == Action.ESCALATE.value and not any(j.kind == "sms" for j in jobs):
            record_alert(session, now, "nobody_to_escalate_to", f"call {call.sid}: danger, nobody")
        if call.action == Action.CALL_NOW.value and call.reached is None:
            tried = set(
                session.scalars(
                    select(DialAttemptRow.number).where(
                        DialAttemptRow.call_id == call.id,
                        DialAttemptRow.outcome.is_distinct_from(CALLER_GONE),
                    )
                )
            )
            if set(ended.call_numbers) <= tried:  # every line tried while the caller waited
                self.unreachable.count(session, call, now)
        call.followed_up_at = now

    def _schedule(self, session: Session, call_id: int, jobs: Sequence[followup.Planned]) -> None:
        for job in jobs:
            self.queue.schedule(session, job.kind, job.key, job.due_at, call_id, job.payload)

    # --- Calling a line -------------------------------------------------------------------

    def call_line(self, job: Job) -> JobOutcome:
        """Call one line of a chain; the outcome comes by Twilio's callback (`line_outcome`)."""
        call = self._call_of(job)
        if call.reached is not None and job.payload["role"] == "technician":
            if job.payload["purpose"] == "request":  # its sheet, if whoever took it had none
                with self.db.session() as session:
                    self._sheets(session, session.get_one(CallRow, call.id))
            return Done("not_needed")  # someone took it meanwhile
        rest, caller_id = self._rest()
        number = job.payload["numbers"][job.payload["index"]]
        placed = _instant(job.payload.get("placing_since"))
        reference = job.provider_ref or (
            placed and self._unheld(job, lambda: rest.find_calls(number, caller_id, placed))
        )
        if reference:
            with provider_errors():
                outcome = rest.call_outcome(reference)
            if outcome.status in UNDER_WAY:
                return Waiting(self.clock.now() + WAIT_FOR_CALL)
            return Done(self.line_outcome(job.id, outcome.status, outcome.answered_by))
        urgent = followup.priority(job.kind, job.payload) <= followup.CALLER_WAITING
        self.pacing.wait_turn(urgent)  # Twilio's rate: never a queue there
        # Noted first (no answer back: the call may exist); refused: taken over meanwhile.
        if not self.queue.note(job, placing_since=self.clock.now().isoformat()):
            return Done("taken over")
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
            placed_call = {"number": number, "sid": sid, "job": job.id}
            self._event(session, session.get_one(CallRow, call.id), "line_called", placed_call)
        return Waiting(self.clock.now() + WAIT_FOR_CALL)

    def _unheld(self, job: Job, found: Callable[[], list[str]]) -> str | None:
        """What this job asked a provider for before it stopped without recording it (a call
        placed, a text sent): the first reference `found` that no other job holds."""
        with provider_errors():
            candidates = found()
        for reference in candidates:
            with self.db.snapshot() as session:
                held = session.scalar(select(JobRow.id).where(JobRow.provider_ref == reference))
            if held is None:
                self.queue.record_ref(job, reference)
                return reference
        return None

    def line_outcome(
        self, job_id: int, status: str, answered_by: str | None, call_sid: str | None = None
    ) -> str:
        """How a call to a line went (Twilio's status callback, or asked): reached (the
        person took the request: put through, taken in hand, an outcome reported), a voicemail
        box, not taken, not answered; what follows. Applied once."""
        with self.db.session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.status not in ("running", "waiting"):
                return row.outcome or "" if row else ""
            if call_sid and row.provider_ref and call_sid != row.provider_ref:
                return ""  # about another call than this job's
            payload = dict(row.payload)
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
            call = session.get_one(CallRow, row.call_id)
            number = payload["numbers"][payload["index"]]
            self._event(session, call, f"line_{outcome}", {"number": number, "job": job_id})
            if outcome == "reached":
                self._reached(session, call, payload, number)
            else:
                self._not_reached(session, call, payload)
            return outcome

    def job_failed(self, job: Job, error: str) -> None:
        """A job given up (the worker's `on_failed`): a line that could not be called is not
        reached, and its chain goes on (the next line, the sheet) all the same."""
        if job.kind != "call_line" or job.call_id is None:
            return
        with self.db.session() as session:
            call = session.get_one(CallRow, job.call_id)
            number = job.payload["numbers"][job.payload["index"]]
            self._event(session, call, "line_failed", {"number": number, "job": job.id})
            self._not_reached(session, call, dict(job.payload))

    def _reached(
        self, session: Session, call: CallRow, payload: dict[str, Any], number: str
    ) -> None:
        if payload["role"] == "technician" and call.reached is None:
            call.reached = number  # a reach resets the unreachable count
        if payload["purpose"] == "request":
            self._sheets(session, call)
        elif _told_on_a_sheet(payload):  # the sheet went already: what changed follows it
            change = {"what": "reached", "by": number, "role": payload["role"]}
            self._follow_up(session, call, payload, change)

    def _not_reached(self, session: Session, call: CallRow, payload: dict[str, Any]) -> None:
        now = self.clock.now()
        retry_at = now + timedelta(minutes=self.settings.DISPATCH_RETRY_MINUTES)
        rounds = self.settings.DISPATCH_ROUNDS
        following = followup.next_in_chain(call.id, payload, now, retry_at, rounds)
        end_of_round = following is None or following.payload["index"] == 0
        first_round_over = payload["round"] == 1 and end_of_round
        tried = payload["purpose"] in ("request", "next_morning")  # the technician's lines
        if tried and first_round_over and not _counted(session, call):
            self.unreachable.count(session, call, now)  # every line tried: one "time"
        if following is not None:
            extra = {k: v for k, v in payload.items() if k not in following.payload}
            extra.pop("placing_since", None)
            extra.pop("taken", None)
            following.payload.update(extra)
            self._schedule(session, call.id, [following])
        elif payload["purpose"] == "request":
            self._sheets(session, call)  # the outcome is known: nobody was reached
        else:  # the agency has the sheet, but nobody has the request
            kind = "manager_unreached" if payload["role"] == "manager" else "technician_unreached"
            record_alert(session, now, kind, f"call {call.sid}: nobody of the chain")
            if _told_on_a_sheet(payload):
                tries = len(payload["numbers"]) * int(payload["round"])
                change = {"what": "unreached", "role": payload["role"], "tries": tries}
                self._follow_up(session, call, payload, change)

    def _sheets(self, session: Session, call: CallRow) -> None:
        plan_request_sheets(session, self.queue, call, self.clock.now())

    def _follow_up(
        self, session: Session, call: CallRow, payload: dict[str, Any], change: dict[str, Any]
    ) -> None:
        at = self.clock.now()
        key = f"followup:{call.id}:{payload['purpose']}"
        plan_follow_up(session, self.queue, call.id, key, {**change, "at": at.isoformat()})

    # --- Text messages --------------------------------------------------------------------

    def sms(self, job: Job) -> JobOutcome:
        if job.provider_ref is not None:
            return self._sent(job)  # sent before the worker stopped
        call = self._call_of(job)
        rest, caller_id = self._rest()
        to = job.payload["to"]
        since = _instant(job.payload.get("sending_since"))
        if since is not None and self._unheld(
            job, lambda: rest.find_messages(to, caller_id, since)
        ):
            return self._sent(job)  # sent before, by a run that stopped before recording it
        with self.db.snapshot() as session:
            if job.payload["role"] == "caller":  # where their request stands: no summary
                if not self._may_text_client(session, to):
                    return Done("opted_out")  # the client answered STOP meanwhile, or texts off
                values: dict[str, str] = {}
            else:
                values = job.payload.get("values") or text_values(
                    record_of(session, call), self.reference, self.db
                )
        body = self._text(job, values)
        self.queue.note(job, sending_since=self.clock.now().isoformat())
        try:
            with provider_errors():
                sent = rest.send_sms(to, caller_id, body)
        except TransientError as error:
            if not error.maybe_done:  # Twilio answered: nothing was sent
                self.queue.note(job, sending_since=None)
            raise
        self.queue.record_ref(job, sent)
        return self._sent(job, body)

    def _sent(self, job: Job, body: str | None = None) -> JobOutcome:
        """A text sent: the client's is on the request's trace, as they read it (once, also
        when a run that sent it stopped before writing it)."""
        if job.payload["role"] != "caller" or job.call_id is None:
            return Done("sent")
        texted = {"to": job.payload["to"], "text": body or self._text(job, {}), "job": job.id}
        with self.db.session() as session:
            traced = session.scalars(
                select(CallEventRow.detail).where(
                    CallEventRow.call_id == job.call_id, CallEventRow.kind == "caller_texted"
                )
            )
            if all(detail.get("job") != job.id for detail in traced):
                self._event(session, session.get_one(CallRow, job.call_id), "caller_texted", texted)
        return Done("sent")

    def _may_text_client(self, session: Session, to: str) -> bool:
        return self.settings.CALLER_TEXTS and not caller_texts.opted_out(session, to)

    def _text(self, job: Job, values: dict[str, str]) -> str:
        """A text's words: the staff's summary; the client's, where their request stands."""
        prompts = self.reference.prompts(self.db)
        if job.payload["role"] != "caller":
            return prompts.text(f"sms_{job.payload['role']}", values)
        said = {"reference": str(job.call_id), "progress": prompts.text(*job.payload["progress"])}
        return prompts.text(job.payload["prompt"], said)

    # --- Helpers --------------------------------------------------------------------------

    def _call_of(self, job: Job) -> CallRow:
        if job.call_id is None:
            raise PermanentError("a dispatcher job without its call")
        with self.db.snapshot() as session:
            return session.get_one(CallRow, job.call_id)

    def _rest(self) -> tuple[TwilioRest, str]:
        if self.rest is None or not self.settings.IVR_CALLER_ID:
            raise PermanentError("Twilio is not configured (TWILIO_ACCOUNT_SID, IVR_CALLER_ID)")
        return self.rest, self.settings.IVR_CALLER_ID

    def _url(self, path: str, job_id: int) -> str:
        return f"{self.settings.PUBLIC_BASE_URL}{path}?job={job_id}"

    def _event(self, session: Session, call: CallRow, kind: str, detail: dict[str, Any]) -> None:
        add_event(session, self.clock.now(), call.id, kind, detail, step="dispatch", turn=call.turn)


def _told_on_a_sheet(payload: dict[str, Any]) -> bool:
    """A chain whose outcome the agency learns on a follow-up sheet: the morning's call, a
    danger's manager called again (their sheets went at once). Not the manager told of an
    unreachable technician: that is about the agency's line, not this request."""
    purpose = str(payload["purpose"])
    return purpose in ("next_morning", "danger") or purpose.startswith(calling_again.NEW_ROUND)


def _counted(session: Session, call: CallRow) -> bool:
    """Whether the request already counted as one unreachable "time"."""
    found = session.scalar(
        select(CallEventRow.id).where(
            CallEventRow.call_id == call.id, CallEventRow.kind == "line_unreachable"
        )
    )
    return found is not None


def _instant(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def make_dispatcher(
    db: Database, settings: Settings, clock: Clock, reference: ReferenceCache | None = None
) -> Dispatcher:
    """The worker's dispatcher: Twilio's REST API when the account is configured, and the
    sheets' fax transport (`make_sheets`)."""
    rest = (
        TwilioRest(
            settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL
        )
        if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN
        else None
    )
    reference = reference or ReferenceCache()
    sheets = make_sheets(db, settings, clock, reference, JobQueue(db, clock))
    pacing = CallPacing(db, clock, settings.TWILIO_CALLS_PER_SECOND)
    return Dispatcher(db, settings, clock, reference, rest, sheets, pacing)
