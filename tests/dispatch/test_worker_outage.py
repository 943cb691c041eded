"""The database away at night: the worker keeps trying, says so once (not a traceback a
second in the journal), says when it works again, and then runs what fell due."""

from __future__ import annotations

import logging
import threading
import time

from ivr.adapters.db import Database
from ivr.adapters.migrations import upgrade
from ivr.clock import Clock
from ivr.domain.local_time import parse_instant
from ivr.services.jobs import Done, JobQueue
from ivr.services.worker import Worker

NIGHT = parse_instant("2026-12-19T03:00")


def test_a_database_away_is_logged_once_and_its_return_said(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'not-yet.sqlite3'}"
    db = Database(url, create=False)  # no file yet: every query fails, as with a server down
    clock = Clock(NIGHT)
    stop = threading.Event()
    done: list[str] = []

    def sheet(job):
        done.append(job.key)
        stop.set()
        return Done()

    worker = Worker(JobQueue(db, clock), {"sheet": sheet})
    running = threading.Thread(
        target=worker.run, args=(stop,), kwargs={"poll": 0.02, "threads": 3}, daemon=True
    )
    with caplog.at_level(logging.INFO, logger="ivr.services.worker"):
        running.start()
        time.sleep(0.5)  # a few dozen failed polls, on three threads
        made = Database(f"sqlite:///{tmp_path / 'made.sqlite3'}")
        upgrade(made.engine)
        made.engine.dispose()  # its WAL checkpointed and gone: the file alone is the database
        (tmp_path / "made.sqlite3").replace(tmp_path / "not-yet.sqlite3")  # back, at once
        with db.session() as session:
            JobQueue(db, clock).schedule(session, "sheet", "sheet:1", NIGHT)
        running.join(timeout=10)
    assert done == ["sheet:1"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in caplog.records]
    assert errors[0].exc_info is not None
    assert errors[0].getMessage() == "worker loop failed; trying again"
    assert any(r.getMessage().startswith("worker loop works again") for r in caplog.records)
