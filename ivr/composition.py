"""Where the program is put together, and the only module that knows every part: the web app
(with the phone simulator in the demo), the dispatcher's worker, gunicorn. `wsgi.py`, the
command line and the tests build the program here; nothing is built at import."""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import Flask

from ivr.adapters import logs
from ivr.adapters.db import Database
from ivr.services import alerting, retention, uploads
from ivr.services.beats import Beats
from ivr.services.call_ends import CallEnds
from ivr.services.callee import Announcements, DispatcherCalls
from ivr.services.calls import Calls
from ivr.services.dispatch import Dispatcher, make_dispatcher
from ivr.services.recordings import LostRecordings
from ivr.services.reference import ReferenceCache
from ivr.services.worker import Worker
from ivr.settings import Settings, load_settings
from ivr.simulator import pages
from ivr.simulator.audio import message_recording
from ivr.simulator.demo import ACCOUNT, DemoStack, Simulator
from ivr.web import auth, server, web_app
from ivr.web.twilio import DatabaseOutage

# A turn of a call waits at most this long for the database (to connect, for a lock, for a
# statement), then the caller gets the safe answer: Twilio gives up on a webhook at 15 s, and
# a caller must never hear silence. Longer than SQLite's longest lock in the weekly import
# (an index build, up to 2.7 s: docs/performance.md), so that calls simply wait it out.
CALLS_DB_SECONDS = 3.0


def create_app(settings: Settings | None = None) -> Flask:
    """The web app from settings (the environment by default): Twilio's webhooks, the back
    office; the phone simulator too when IVR_SIMULATOR is on.

    Two engines on the one database: the webhooks' bounds every wait (`CALLS_DB_SECONDS`),
    the back office's lets an import run long."""
    settings = settings or load_settings()
    # Only `ivr db upgrade` makes a database: a missing one is reported (`/healthz`).
    db = Database(settings.DATABASE_URL, create=False)
    calls_db = Database(settings.DATABASE_URL, answer_within=CALLS_DB_SECONDS, create=False)
    clock = settings.make_clock()
    reference = ReferenceCache()
    parts: dict[str, Any] = {
        "ivr.settings": settings,
        "ivr.db": db,
        "ivr.calls_db": calls_db,
        "ivr.clock": clock,
        "ivr.reference": reference,
        "ivr.calls": Calls(calls_db, settings, clock, reference),
        "ivr.announcements": Announcements(calls_db, settings, clock, reference),
        "ivr.dispatcher_calls": DispatcherCalls(calls_db, settings, clock, reference),
        # The web app follows the dispatcher's calls; placing them is the worker's.
        "ivr.dispatcher": make_dispatcher(calls_db, settings, clock, reference),
        "ivr.outage": DatabaseOutage(clock),
    }
    app = web_app(settings, parts)
    if settings.IVR_SIMULATOR:
        simulator = Simulator(app, settings, db, clock, reference)
        app.extensions["ivr.simulator"] = simulator
        app.extensions["ivr.recordings"] = message_recording  # the simulator records nothing
        # A demo tool, never in production: its page's own API and the fake Twilio API the
        # dispatcher calls carry no CSRF token.
        app.register_blueprint(auth.csrf.exempt(pages.blueprint))
        fake_twilio = simulator.rest.blueprint("simulated_twilio", "/simulator/twilio")
        app.register_blueprint(auth.csrf.exempt(fake_twilio))
    return app


def make_worker(dispatcher: Dispatcher) -> Worker:
    """The dispatcher's worker: its jobs, and its housekeeping (it says it is alive, plans
    the jobs of ended calls, the alerts to send and the day's pass over old recordings, and
    asks Twilio about calls whose end, or message, was never told); the chains that go on
    when a job is given up."""
    db, clock, settings = dispatcher.db, dispatcher.clock, dispatcher.settings
    recordings = retention.Retention(db, clock, dispatcher.rest, settings.RECORDING_RETENTION_DAYS)
    notices = alerting.AlertNotices(db, clock, settings, dispatcher.rest)
    beats = Beats(db, clock)
    lost_ends = CallEnds(db, dispatcher.rest)
    lost_messages = LostRecordings(db, dispatcher.rest)

    def housekeeping() -> None:
        beats.housekeep()
        dispatcher.plan_ended_calls()
        notices.housekeep()
        recordings.housekeep()
        # Last: Twilio's answers never hold up the planning.
        lost_ends.sweep(clock.now())
        lost_messages.housekeep(clock.now())

    handlers = {
        **dispatcher.handlers(),
        uploads.KIND: uploads.ClientImports(db, clock).run,
        retention.KIND: recordings.run,
        alerting.KIND: notices.send,
    }
    return Worker(dispatcher.queue, handlers, housekeeping, dispatcher.job_failed, beats.stop)


def worker_of(app: Flask) -> Worker:
    """A worker on the app's database and clock (the demo: one clock for both)."""
    parts = app.extensions
    return make_worker(make_dispatcher(parts["ivr.db"], parts["ivr.settings"], parts["ivr.clock"]))


def serve(
    settings: Settings,
    bind: str = "127.0.0.1:8000",
    workers: int | None = None,
    threads: int | None = None,
) -> None:
    """`ivr serve`: gunicorn in the foreground until it is stopped (Ctrl-C, SIGTERM).

    SQLite takes one writer at a time: a second thread of a worker would only wait for the
    write lock in SQLite's busy handler, whose sleeps grow to 100 ms each, while the callers
    wait; there, a worker answers with one thread (more workers answer more at once). On
    PostgreSQL, a worker keeps answering with its other threads while one waits on the
    database."""
    logs.configure(settings.LOG_FORMAT == "json", settings.make_clock())  # gunicorn's master
    if not settings.SECRET_KEY:
        # One key for every worker of this server: keys drawn by each would refuse the
        # sessions the others signed (logged in on one worker, the next page on another).
        if not settings.IVR_SIMULATOR:
            logging.getLogger(__name__).warning(
                "SECRET_KEY unset: back-office sessions end when this server restarts and "
                "are not shared with other hosts"
            )
        settings = settings.model_copy(update={"SECRET_KEY": secrets.token_hex(32)})
    sqlite = settings.DATABASE_URL.startswith("sqlite")
    threads = threads or (1 if sqlite else 4)
    load = lambda: create_app(settings)  # noqa: E731 (each worker builds its own app)
    server.run(load, bind, workers, threads, post_worker_init=_worker_ready)


def _worker_ready(worker: Any) -> None:
    """A gunicorn worker has built the app: it loads what calls are answered from, says it is
    ready (and, in the demo, runs the dispatcher's worker beside it)."""
    app = worker.wsgi
    warm_up(app)
    if app.extensions["ivr.settings"].IVR_SIMULATOR:
        _run_worker_inside(app)
    worker.log.info("worker ready (pid: %s)", worker.pid)


def warm_up(app: Flask) -> None:
    """What the first caller would otherwise wait for, loaded as the worker starts: a
    connection to the database, the directory and the prompts in force. A database that does
    not answer yet is no reason not to start: the first call then loads them."""
    parts = app.extensions
    db, reference = parts["ivr.calls_db"], parts["ivr.reference"]
    try:
        reference.directory(db)
        reference.prompts(db)
    except Exception:
        app.logger.warning("the reference data could not be loaded at start", exc_info=True)


def _run_worker_inside(app: Flask) -> None:
    """The demo (IVR_SIMULATOR): the dispatcher's worker runs in the web process, so that the
    simulator page moves one clock for both (`make run` serves one gunicorn worker)."""
    runner = worker_of(app)
    thread = threading.Thread(
        target=runner.run, args=(threading.Event(),), name="dispatcher", daemon=True
    )
    thread.start()


@contextmanager
def serve_demo(settings: Settings, at: datetime | None) -> Iterator[DemoStack]:
    """The app with the simulator on a free loopback port (its fake Twilio REST API at
    `/simulator/twilio`, which the dispatcher calls over HTTP), as `make run` runs it, for
    `ivr simulate` and the tests. The worker is not started: call `run_due` or `run`."""
    from werkzeug.serving import make_server

    httpd = make_server("127.0.0.1", 0, _not_ready, threaded=True)
    base = f"http://127.0.0.1:{httpd.server_port}"
    overrides = {
        "IVR_SIMULATOR": True,
        "PUBLIC_BASE_URL": base,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN or "simulator-token",
        "TWILIO_API_BASE_URL": f"{base}/simulator/twilio",
        "IVR_CALLER_ID": settings.IVR_CALLER_ID or "+33199000000",
    }
    if at is not None:
        overrides["IVR_CLOCK"] = at
    app = create_app(settings.model_copy(update=overrides))
    httpd.app = app
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield DemoStack(app, worker_of(app), base)
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        dispose(app)


def dispose(app: Flask) -> None:
    """Close the app's database connections (a process that builds apps one after another:
    the tests, `ivr simulate`), rather than leave them to the garbage collector."""
    for name in ("ivr.db", "ivr.calls_db"):
        app.extensions[name].dispose()


def _not_ready(_environ: object, start_response: Any) -> list[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
