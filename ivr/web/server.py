"""`ivr serve`: gunicorn, configured from code, serving the app a loader builds."""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from ivr.adapters.metrics import process_gone


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, load: Callable[[], Any], options: dict[str, Any]) -> None:
        self._load = load
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()


class _ThroughTheProgramsLogs(Logger):  # type: ignore[misc]
    """gunicorn's own lines (a worker booting, each request answered) go where every other
    line goes (ivr.adapters.logs): JSON in production like the rest, phone numbers masked.
    Its handlers would print them as text into the same stream, which a log collector reading
    JSON cannot parse. A process whose logs nobody configured keeps gunicorn's own."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        if not logging.getLogger().handlers:
            return
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


def run(
    load: Callable[[], Any],
    bind: str = "127.0.0.1:8000",
    workers: int | None = None,
    threads: int = 4,
    post_worker_init: Callable[[Any], None] | None = None,
) -> None:
    """Serve the app `load` builds (in each worker), in the foreground until it is stopped
    (Ctrl-C, SIGTERM)."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers or min(2 * multiprocessing.cpu_count(), 8),
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        # Twilio's query strings carry phone numbers: log the path only; and no address,
        # which for a person in the back office is personal data.
        "access_log_format": '"%(m)s %(U)s" %(s)s %(b)s %(M)sms',
        "forwarded_allow_ips": "127.0.0.1",
        # Unused here, and made by default in $HOME: the user ivr's home is the folder every
        # host shares, so each host's server would take the others' socket.
        "control_socket_disable": True,
        "logger_class": _ThroughTheProgramsLogs,
    }
    if post_worker_init is not None:
        options["post_worker_init"] = post_worker_init
    options["child_exit"] = lambda _server, worker: process_gone(worker.pid)
    _Gunicorn(load, options).run()
