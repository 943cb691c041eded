"""`ivr worker`: runs the jobs that fall due (ivr.services.jobs), on the program's clock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

from ivr.services.jobs import Job, JobQueue, Outcome, PermanentError, TransientError

log = logging.getLogger(__name__)

Handler = Callable[[Job], Outcome]
POLL_SECONDS = 1.0  # a job starts within about this long of falling due


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        housekeeping: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.housekeeping = housekeeping  # e.g. planning the jobs of calls that just ended

    def run_one(self) -> bool:
        """Run one due job; False when none is due."""
        job = self.queue.claim()
        if job is None:
            return False
        handler = self.handlers.get(job.kind)
        if handler is None:
            self.queue.fail(job, f"no handler for jobs of kind {job.kind!r}")
            return True
        try:
            outcome = handler(job)
        except TransientError as error:
            self.queue.retry(job, str(error))
        except PermanentError as error:
            self.queue.fail(job, str(error))
        except Exception as error:  # a bug or an unforeseen failure: retried, then failed
            log.exception("job %s (%s) raised", job.id, job.kind)
            self.queue.retry(job, f"{type(error).__name__}: {error}")
        else:
            self.queue.finish(job, outcome)
        return True

    def run_due(self) -> int:
        """`--burst`: everything due now (including what that work schedules for now)."""
        done = 0
        while True:
            if self.housekeeping is not None:
                self.housekeeping()
            if not self.run_one():
                return done
            done += 1

    def run(self, stop: threading.Event, poll: float = POLL_SECONDS) -> None:
        """Until `stop` is set: run what is due, then look again every `poll` seconds."""
        log.info("worker started")
        while not stop.is_set():
            try:
                ran = self.run_due()
            except Exception:  # the database away for a moment: keep the worker alive
                log.exception("worker loop failed; trying again")
                ran = 0
            if not ran:
                stop.wait(poll)
        log.info("worker stopped")
