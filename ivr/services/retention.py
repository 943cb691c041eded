"""How long callers' recordings are kept (their voice, their words: personal data).

At most `RECORDING_RETENTION_DAYS` after they were made (default 183, about six months: the
CNIL's guidance for call recordings); then deleted at Twilio, which keeps the audio, and here,
with the deletion on the call's trace. It is a job of the worker, planned once a day (a Paris
date, by the program's clock) when some recording is past its time: retried, leased and failed
visibly like any other. A pass takes a batch at a time, well inside a job's lease, and plans
the next batch at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, select, update

from ivr.adapters.db import Database
from ivr.adapters.orm import RecordingRow
from ivr.adapters.twilio_rest import TwilioRest
from ivr.clock import Clock
from ivr.services.jobs import Done, Job, JobOutcome, JobQueue
from ivr.services.trace import add_event, alert_on_failure

log = logging.getLogger(__name__)
KIND = "delete_recordings"
DELETED = "deleted"
BATCH = 100  # Twilio deletes in ~0.3 s each: a batch ends well inside the job's lease


@dataclass
class Retention:
    db: Database
    clock: Clock
    rest: TwilioRest | None
    days: int
    planned_for: date | None = None  # the day this worker last planned a pass for

    def housekeep(self) -> None:
        """Plan the day's pass, once a day (whichever worker gets there first), when some
        recording is past its time."""
        today = self.clock.local_now().date()
        if self.rest is None or self.planned_for == today:
            return
        now = self.clock.now()
        with self.db.session() as session:
            if session.scalar(self._due(now).limit(1)) is not None:
                JobQueue(self.db, self.clock).schedule(session, KIND, f"{KIND}:{today}", now)
        self.planned_for = today

    def run(self, job: Job) -> JobOutcome:
        """The job: a batch of recordings past their time, deleted at Twilio then here.
        Twilio or the database away: an alert at the first failure, and the job's retries."""
        now = self.clock.now()
        try:
            deleted = self.delete_old(now)
        except Exception as error:
            if job.attempts == 1:
                alert_on_failure(self.db, now, "retention_failed", type(error).__name__)
            raise
        if deleted == BATCH:  # more are due: the next batch now, as its own job
            with self.db.session() as session:
                JobQueue(self.db, self.clock).schedule(session, KIND, f"{KIND}:{now}", now)
        log.info("%d recording(s) deleted after %d days", deleted, self.days)
        return Done(f"{deleted} deleted")

    def delete_old(self, now: datetime) -> int:
        """Up to a batch of recordings made more than `days` ago, deleted at Twilio then
        here, one by one (a pass cut short goes on where it stopped); how many."""
        assert self.rest is not None
        with self.db.snapshot() as session:
            due = session.scalars(self._due(now).order_by(RecordingRow.id).limit(BATCH)).all()
        for sid in due:
            self.rest.delete_recording(sid)  # outside any transaction: no lock held meanwhile
            self._forget(sid, now)
        return len(due)

    def _due(self, now: datetime) -> Select[str]:
        cutoff = now - timedelta(days=self.days)
        return select(RecordingRow.sid).where(
            RecordingRow.received_at < cutoff, RecordingRow.status != DELETED
        )

    def _forget(self, sid: str, now: datetime) -> None:
        """The recording's row keeps that it was made and deleted, not where its audio was;
        the call's trace says so. Once, whichever worker gets there first."""
        with self.db.session() as session:
            forgotten = session.execute(
                update(RecordingRow)
                .where(RecordingRow.sid == sid, RecordingRow.status != DELETED)
                .values(status=DELETED, url="")
                .returning(RecordingRow.call_id, RecordingRow.kind)
            ).one_or_none()
            if forgotten is not None and forgotten.call_id is not None:
                detail = {"recording": sid, "kind": forgotten.kind, "kept_days": self.days}
                add_event(
                    session, now, forgotten.call_id, "recording_deleted", detail, step="retention"
                )
