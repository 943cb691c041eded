"""The program's logs: one line per event, JSON in production (`LOG_FORMAT=json`, for the
journal and a log collector), text for people otherwise; each line carries the call's SID or
the job's id it is about, and no personal data: phone numbers are masked wherever they appear.

Every module logs with the standard `logging`; structlog formats the lines (its
`ProcessorFormatter`) and adds what `bind` put in context for the request or the job at hand.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog

from ivr.clock import Clock

# A phone number as logs could carry it: E.164 or French national, spaced or not.
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{2}|0)\d(?:[ .]?\d){6}[ .]?(\d{2})\b")


def mask(text: str) -> str:
    """ "+33612345678" -> "+33******78", "06 12 34 56 78" -> "0******78": enough to tell two
    numbers apart, not to call one."""
    return _PHONE.sub(lambda m: _prefix(m.group(0)) + "******" + m.group(1), text)


def _prefix(number: str) -> str:
    return number[:3] if number.startswith("+") else "0"


def _masked(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = mask(value)
    return event


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The program's own handler (stderr), told apart from anyone else's."""


def configure(json: bool, clock: Clock, level: int = logging.INFO) -> None:
    """Route every `logging` record through structlog's formatter. As `logging.basicConfig`,
    nothing is done when the process already has another handler (a test runner's, say); a
    handler of ours is replaced: `ivr serve` configures its gunicorn master, then each worker
    process its own, with its app's clock."""
    root = logging.getLogger()
    if any(not isinstance(handler, _Handler) for handler in root.handlers):
        return
    for handler in list(root.handlers):
        root.removeHandler(handler)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # Which of a server's processes (gunicorn's workers share its stream).
        structlog.processors.CallsiteParameterAdder(
            {structlog.processors.CallsiteParameter.PROCESS}
        ),
        lambda _logger, _name, event: {**event, "timestamp": clock.now().isoformat()},
    ]
    renderer = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _masked,
            renderer,
        ],
    )
    handler = _Handler()
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level)
    # Chatter an operator reading the journal has no use for: alembic names its plugins at
    # every start and its dialect at every readiness check (`/healthz`, polled by the load
    # balancer); werkzeug, serving the demo's in-process servers, logs every request.
    for chatty in ("alembic", "werkzeug"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))


@contextmanager
def bound(**context: Any) -> Iterator[None]:
    """What the lines logged meanwhile are about (`call_sid=`, `job=`)."""
    with structlog.contextvars.bound_contextvars(**context):
        yield
