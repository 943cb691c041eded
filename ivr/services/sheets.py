"""The summary sheet (§5.2): what it says of a request, and its delivery to a fax (the agency's;
the regional direction's too, for a danger), followed until the provider says it arrived."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select

from ivr.adapters.db import Database
from ivr.adapters.fax import Fax, FaxTransport
from ivr.adapters.orm import CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.adapters.sheet import SheetAttempt, SheetData, render_sheet
from ivr.clock import Clock
from ivr.domain.summary import equipment_words
from ivr.domain.triage import Danger, Fault
from ivr.services import jobs
from ivr.services.records import CallRecord, record_of
from ivr.services.reference import ReferenceCache

WAIT_FOR_FAX = timedelta(minutes=10)


@dataclass
class Sheets:
    db: Database
    clock: Clock
    reference: ReferenceCache
    queue: jobs.JobQueue
    fax: FaxTransport | None  # none configured: every sheet fails, visibly

    def send(self, job: jobs.Job) -> jobs.JobOutcome:
        """The `sheet` job: the request's sheet, to one fax number, until it is delivered."""
        if self.fax is None:
            raise jobs.PermanentError("no fax transport configured")
        if job.provider_ref is not None:
            return self._status(job, job.provider_ref)
        if job.call_id is None:
            raise jobs.PermanentError("a sheet without its call")
        with self.db.snapshot() as session:
            sid = session.get_one(CallRow, job.call_id).sid
        # The same name when the job runs again (a transport may drop the duplicate); a new
        # one when the provider failed to deliver the last.
        name = f"{sid}-sheet-{job.id}-{job.payload.get('resends', 0)}"
        with jobs.provider_errors():
            reference = self.fax.send(Fax(job.payload["to"], name, self.pdf(job.call_id), sid))
        self.queue.record_ref(job, reference)
        return self._status(job, reference)

    def _status(self, job: jobs.Job, reference: str) -> jobs.JobOutcome:
        assert self.fax is not None
        with jobs.provider_errors():
            status = self.fax.status(reference)
        if status == "completed":
            return jobs.Done("delivered")
        if status == "failed":
            self.queue.forget_ref(job)  # send it again, later
            raise jobs.TransientError("the fax provider could not deliver the sheet")
        return jobs.Waiting(self.clock.now() + WAIT_FOR_FAX)

    def delivered(self, reference: str, status: str) -> bool:
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
            row.updated_at, row.lease_until = now, None
            if status == "completed":
                row.status, row.outcome, row.done_at = "done", "delivered", now
            elif status == "failed":
                row.payload = {**row.payload, "resends": int(row.payload.get("resends", 0)) + 1}
                row.provider_ref, row.status, row.due_at = None, "pending", now
                row.last_error = "the fax provider could not deliver the sheet"
            return True

    def pdf(self, call_id: int) -> bytes:
        """The request's sheet as it stands: what the call established, who was tried and
        reached, and what came of it when someone reported it."""
        with self.db.snapshot() as session:
            record = record_of(session, session.get_one(CallRow, call_id))
            attempts = session.scalars(
                select(DialAttemptRow).where(DialAttemptRow.call_id == call_id)
            ).all()
            lines = session.scalars(
                select(JobRow).where(JobRow.call_id == call_id, JobRow.kind == "call_line")
            ).all()
            reported = session.scalar(
                select(CallEventRow.detail)
                .where(CallEventRow.call_id == call_id, CallEventRow.kind == "staff_outcome")
                .order_by(CallEventRow.id.desc())
                .limit(1)
            )
        data = self._data(record, list(attempts), list(lines))
        if reported and reported.get("outcome") != "acknowledged":
            said = reported.get("label", reported.get("outcome", ""))
            slot = f", {reported['slot']}" if reported.get("slot") else ""
            data = replace(data, follow_up=f"{said}{slot}", title_suffix=" — suite donnée")
        return render_sheet(data)

    def _data(
        self, record: CallRecord, attempts: list[DialAttemptRow], lines: list[JobRow]
    ) -> SheetData:
        call, state = record.call, record.state
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
            callback_number=record.callback,
            equipment=equipment_words(client) if client else None,
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
            voicemail_message_left=any(j.outcome == "voicemail" for j in lines),
            agency=call.agency,
        )
