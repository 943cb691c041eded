"""`ivr worker`: runs the jobs that fall due (ivr.services.jobs), on the program's clock."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from ivr.adapters.logs import bound
from ivr.adapters.metrics import JOB_START_DELAY
from ivr.services.jobs import Job, JobOutcome, JobQueue, PermanentError, TransientError

log = logging.getLogger(__name__)

Handler = Callable[[Job], JobOutcome]
Failed = Callable[[Job, str], object]
POLL_SECONDS = 1.0  # a job starts within about this long of falling due
REMIND_SECONDS = 60.0  # a failure that goes on is said again this often, in one line


class _Failing:
    """A failure that goes on (the database away) logged once in full, then once a
    minute in one line, and its end said: not a traceback a second in the journal."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._lock = threading.Lock()  # the worker's threads share it
        self._since: float | None = None
        self._said = 0.0

    def failed(self, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            if self._since is None:
                self._since = self._said = now
                log.exception("%s failed; trying again", self.what)
            elif now - self._said >= REMIND_SECONDS:
                self._said = now
                log.error(
                    "%s still failing after %.0f s (now %s)",
                    self.what,
                    now - self._since,
                    type(error).__name__,
                )

    def works(self) -> None:
        with self._lock:
            if self._since is not None:
                log.warning(
                    "%s works again after %.0f s", self.what, time.monotonic() - self._since
                )
                self._since = None


class Worker:
    def __init__(
        self,
        queue: JobQueue,
        handlers: Mapping[str, Handler],
        housekeeping: Callable[[], object] | None = None,
        on_failed: Failed | None = None,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        self.queue = queue
        self.handlers = handlers
        self.housekeeping = housekeeping  # e.g. planning the jobs of calls that just ended
        self.on_failed = on_failed  # what must still happen when a job is given up
        self.on_stop = on_stop  # e.g. no longer listed as alive
        self._housekeeping_failing = _Failing("worker housekeeping")
        self._loop_failing = _Failing("worker loop")

    def run_one(self) -> bool:
        """Run one due job; False when none is due."""
        job = self.queue.claim()
        if job is None:
            return False
        late = (self.queue.clock.now() - job.due_at).total_seconds()
        JOB_START_DELAY.labels(job.kind).observe(max(late, 0))
        handler = self.handlers.get(job.kind)
        if handler is None:
            self._gave_up(job, f"no handler for jobs of kind {job.kind!r}", at_once=True)
            return True
        try:
            with bound(job=job.id, kind=job.kind):
                outcome = handler(job)
        except TransientError as error:
            self._gave_up(job, str(error), at_once=False)
        except PermanentError as error:
            self._gave_up(job, str(error), at_once=True)
        except Exception as error:  # a bug or an unforeseen failure: retried, then failed
            log.exception("job %s (%s) raised", job.id, job.kind)
            self._gave_up(job, f"{type(error).__name__}: {error}", at_once=False)
        else:
            self.queue.finish(job, outcome)
        return True

    def _gave_up(self, job: Job, error: str, at_once: bool) -> None:
        failed = self.queue.fail(job, error) if at_once else self.queue.retry(job, error)
        if failed and self.on_failed is not None:
            self.on_failed(job, error)

    def burst(self) -> int:
        """`--burst`: everything due now, then stopped as asked (no longer listed alive)."""
        try:
            return self.run_due()
        finally:
            if self.on_stop is not None:
                self.on_stop()

    def run_due(self, stop: threading.Event | None = None) -> int:
        """Everything due now (including what that work schedules for now)."""
        done = 0
        while stop is None or not stop.is_set():
            self._housekeep()
            if not self.run_one():
                break
            done += 1
        return done

    def _housekeep(self) -> None:
        """Never in the way of the jobs: a failure here is logged, and jobs still run."""
        if self.housekeeping is None:
            return
        try:
            self.housekeeping()
        except Exception as error:
            self._housekeeping_failing.failed(error)
        else:
            self._housekeeping_failing.works()

    def run(self, stop: threading.Event, poll: float = POLL_SECONDS, threads: int = 1) -> None:
        """Until `stop` is set: run what is due, then look again every `poll` seconds; with
        `threads` jobs in flight at once, so that one slow provider request (a call placed
        in 300 ms, a fax upload) does not hold up the others. The housekeeping (planning the
        jobs of calls that just ended: a danger's manager call) has a thread of its own, so
        it never waits behind a job waiting for its call slot."""
        log.info("worker started with %d thread(s)", threads)
        working = [
            threading.Thread(target=self._loop, args=(stop, poll), daemon=True)
            for _ in range(threads)
        ]
        for thread in working:
            thread.start()
        while not stop.is_set():
            self._housekeep()
            stop.wait(poll)
        for thread in working:
            thread.join()
        if self.on_stop is not None:
            self.on_stop()
        log.info("worker stopped")

    def _loop(self, stop: threading.Event, poll: float) -> None:
        while not stop.is_set():
            try:
                ran = self._run_all(stop)
            except Exception as error:  # the database away for a moment: keep the worker alive
                self._loop_failing.failed(error)
                ran = 0
            else:
                self._loop_failing.works()
            if not ran:
                stop.wait(poll)

    def _run_all(self, stop: threading.Event) -> int:
        done = 0
        while not stop.is_set() and self.run_one():
            done += 1
        return done
