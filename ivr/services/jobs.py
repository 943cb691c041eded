"""Durable background work: the `jobs` table is the queue (docs/architecture.md).

A job is scheduled once (its `key` is unique), claimed by one worker at a time with a lease,
and ends done, failed (with an alert) or cancelled; never silently gone. A worker that dies
mid-job loses its lease, and the job runs again: the handlers write the provider's
reference the moment the provider accepted the work, and look at it before doing anything,
so a job run twice does its work once. Due times are on the program's clock (`IVR_CLOCK`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.metrics import PROVIDER_ERRORS
from ivr.adapters.orm import JobRow
from ivr.adapters.providers import PermanentProviderError, TransientProviderError
from ivr.clock import Clock
from ivr.domain.followup import priority
from ivr.services.trace import record_alert

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # a job still running after this is taken to be lost
MAX_ATTEMPTS = 12  # some three hours of tries: a provider down for an hour loses nothing
FIRST_BACKOFF = timedelta(seconds=30)
LONGEST_BACKOFF = timedelta(minutes=30)


@dataclass
class TransientError(Exception):
    """Worth trying again later (a provider down, rate limited, out of reach)."""

    reason: str
    maybe_done: bool = False  # no answer came back: the work may have been done all the same

    def __str__(self) -> str:
        return self.reason


class PermanentError(Exception):
    """Trying again as is cannot work (a bad number, a refused request)."""


@contextmanager
def provider_errors() -> Iterator[None]:
    """A provider's failure (Twilio, a fax service), as what it means for a job."""
    try:
        yield
    except TransientProviderError as error:
        PROVIDER_ERRORS.labels("transient").inc()
        raise TransientError(str(error), error.maybe_done) from error
    except PermanentProviderError as error:
        PROVIDER_ERRORS.labels("permanent").inc()
        raise PermanentError(str(error)) from error


@dataclass(frozen=True)
class Job:
    id: int
    key: str
    kind: str
    call_id: int | None
    due_at: datetime
    attempts: int
    payload: Mapping[str, Any]
    provider_ref: str | None


@dataclass(frozen=True)
class Done:
    """The job did its work; `outcome` says how it went (for the trace and the back office)."""

    outcome: str = "done"


@dataclass(frozen=True)
class Waiting:
    """The provider took the work and will call back with the outcome (a call's status);
    if it has not by `until`, the job runs again and asks the provider."""

    until: datetime


JobOutcome = Done | Waiting


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min ... up to 30 min between tries."""
    wait: timedelta = FIRST_BACKOFF * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_BACKOFF)


class JobQueue:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def schedule(
        self,
        session: Session,
        kind: str,
        key: str,
        due_at: datetime,
        call_id: int | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> bool:
        """Schedule a job inside the caller's transaction; False if that key already was."""
        if session.scalar(select(JobRow.id).where(JobRow.key == key)) is not None:
            return False
        now = self.clock.now()
        try:
            with session.begin_nested():
                session.add(
                    JobRow(
                        key=key,
                        kind=kind,
                        call_id=call_id,
                        due_at=due_at,
                        priority=priority(kind, dict(payload or {})),
                        payload=dict(payload or {}),
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:  # scheduled meanwhile by another worker
            return False
        return True

    def claim(self) -> Job | None:
        """The next due job (danger first: `priority`, then the earliest), now leased to this
        worker; None when nothing is due. Due: pending and due, or leased to a worker that
        stopped answering, or waiting too long for a provider's callback. Looked for in a
        snapshot: an idle worker writes nothing."""
        now = self.clock.now()
        with self.db.snapshot() as session:
            rows = session.execute(
                select(JobRow.id, JobRow.status, JobRow.attempts)
                .where(
                    or_(
                        (JobRow.status == "pending") & (JobRow.due_at <= now),
                        JobRow.status.in_(("running", "waiting")) & (JobRow.lease_until <= now),
                    )
                )
                .order_by(JobRow.priority, JobRow.due_at, JobRow.id)
                .limit(10)
            ).all()
        for row in rows:
            with self.db.session() as session:
                # Claimed only if nobody changed it since it was read: one worker wins.
                taken = session.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == row.id,
                        JobRow.status == row.status,
                        JobRow.attempts == row.attempts,
                    )
                    .values(
                        status="running",
                        attempts=row.attempts + 1,
                        lease_until=now + LEASE,
                        updated_at=now,
                    )
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:  # type: ignore[attr-defined]
                    return _job(session.get_one(JobRow, row.id))
        return None

    # Every write below is fenced: it applies only while the job is still this run's
    # (running, at this attempt). A provider's callback that settled the job meanwhile, or
    # another worker that took it over after the lease ran out, wins; the write is dropped.

    def record_ref(self, job: Job, reference: str) -> bool:
        """The provider accepted the work: written before anything else happens."""
        return self._set(job, provider_ref=reference)

    def note(self, job: Job, **payload: Any) -> bool:
        """Add to the job's payload (e.g. when a provider request is about to be made)."""
        return self._set(job, payload={**job.payload, **payload})

    def forget_ref(self, job: Job) -> bool:
        """The provider failed the work it had accepted: it is to be done again, as a new
        piece of work (`payload["resends"]` counts them, to name it anew)."""
        resends = int(job.payload.get("resends", 0)) + 1
        return self._set(job, provider_ref=None, payload={**job.payload, "resends": resends})

    def finish(self, job: Job, outcome: JobOutcome) -> None:
        now = self.clock.now()
        if isinstance(outcome, Waiting):
            if job.attempts >= MAX_ATTEMPTS:
                self.fail(job, f"no outcome from the provider after {job.attempts} checks")
                return
            self._set(job, status="waiting", lease_until=outcome.until)
        else:
            self._set(job, status="done", outcome=outcome.outcome, done_at=now, lease_until=None)

    def retry(self, job: Job, error: str) -> bool:
        """Try again later, waiting longer each time; after MAX_ATTEMPTS, fail (True)."""
        if job.attempts >= MAX_ATTEMPTS:
            return self.fail(job, f"still failing after {job.attempts} attempts: {error}")
        due = self.clock.now() + backoff(job.attempts)
        log.warning("job %s (%s) will be tried again at %s: %s", job.id, job.kind, due, error)
        self._set(job, status="pending", due_at=due, last_error=error, lease_until=None)
        return False

    def fail(self, job: Job, error: str) -> bool:
        """Give up, visibly: the job stays, failed, and an operator is alerted."""
        now = self.clock.now()
        with self.db.session() as session:
            if not self._fenced(session, job, status="failed", last_error=error, lease_until=None):
                return False
            record_alert(session, now, "job_failed", f"{job.kind} job {job.id}: {error}")
        return True

    def cancel(
        self,
        session: Session,
        call_id: int,
        kinds: tuple[str, ...],
        why: str,
        except_job: int | None = None,
    ) -> int:
        """Cancel what is still to do for a call (dealt with meanwhile); the number cancelled."""
        result = session.execute(
            update(JobRow)
            .where(
                JobRow.call_id == call_id,
                JobRow.kind.in_(kinds),
                JobRow.status.in_(("pending", "waiting")),
                JobRow.id != (except_job or 0),
            )
            .values(status="cancelled", outcome=why, updated_at=self.clock.now())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def _set(self, job: Job, **values: Any) -> bool:
        with self.db.session() as session:
            applied = self._fenced(session, job, **values)
        if not applied:
            log.info("job %s (%s) was settled elsewhere meanwhile", job.id, job.kind)
        return applied

    def _fenced(self, session: Session, job: Job, **values: Any) -> bool:
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job.id, JobRow.status == "running", JobRow.attempts == job.attempts)
            .values(updated_at=self.clock.now(), **values)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _job(row: JobRow) -> Job:
    """A job as its handler sees it: its row's values, a copy of its payload."""
    values = {name: getattr(row, name) for name in Job.__dataclass_fields__}
    return Job(**{**values, "payload": dict(row.payload)})
