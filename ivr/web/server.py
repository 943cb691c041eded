"""`ivr serve`: the app under gunicorn, configured from code."""

from __future__ import annotations

import multiprocessing
from typing import Any

from gunicorn.app.base import BaseApplication

from ivr.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from ivr.web import create_app

        return create_app(self._settings)


def serve(settings: Settings, bind: str = "127.0.0.1:8000", workers: int | None = None) -> None:
    """Run gunicorn in the foreground until it is stopped (Ctrl-C, SIGTERM)."""
    options = {
        "bind": bind,
        "workers": workers or min(2 * multiprocessing.cpu_count(), 8),
        # Threads: a worker keeps answering webhooks while one request waits on the database.
        "threads": 4,
        "worker_class": "gthread",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        # Twilio's query strings carry phone numbers: log the path only.
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "forwarded_allow_ips": "127.0.0.1",
    }
    if settings.IVR_SIMULATOR:
        options["post_worker_init"] = _demo_worker
    _Gunicorn(settings, options).run()


def _demo_worker(worker: Any) -> None:
    """The demo (IVR_SIMULATOR): the dispatcher's worker runs in the web process, so that
    the simulator page moves one clock for both (`make run` serves one gunicorn worker)."""
    import threading

    from ivr.services.dispatch import make_dispatcher
    from ivr.services.worker import Worker

    app = worker.wsgi
    dispatcher = make_dispatcher(
        app.extensions["ivr.db"], app.extensions["ivr.settings"], app.extensions["ivr.clock"]
    )
    runner = Worker(
        dispatcher.queue, dispatcher.handlers(), dispatcher.plan_ended_calls, dispatcher.job_failed
    )
    thread = threading.Thread(
        target=runner.run, args=(threading.Event(),), name="dispatcher", daemon=True
    )
    thread.start()
