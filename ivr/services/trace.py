"""The trace every request leaves, and the alerts operators must see: one way to add each."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.metrics import ALERTS
from ivr.adapters.orm import AlertRow, CallEventRow, table_of

log = logging.getLogger(__name__)


_EVENTS = table_of(CallEventRow)
_NEW_EVENT = insert(_EVENTS).returning(_EVENTS.c.id)


def add_event(
    session: Session,
    at: datetime,
    call_id: int,
    kind: str,
    detail: Mapping[str, Any],
    *,
    step: str,
    turn: int = 0,
) -> int:
    """One thing that happened to a request: a prompt, keys, a decision, a call placed...
    `step` says where (the flow's step, or `dispatch`); `turn`, which turn of the call. Its id."""
    row = _event_row(at, call_id, kind, detail, step, turn)
    return int(session.execute(_NEW_EVENT, row).scalar_one())


def add_events(
    session: Session,
    at: datetime,
    call_id: int,
    events: Sequence[tuple[str, Mapping[str, Any], str]],
    *,
    turn: int,
) -> None:
    """Several things that happened in one turn, `(kind, detail, step)` each, in one
    statement."""
    if events:
        rows = [_event_row(at, call_id, *event, turn) for event in events]
        session.execute(insert(_EVENTS), rows)


def _event_row(
    at: datetime, call_id: int, kind: str, detail: Mapping[str, Any], step: str, turn: int
) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "at": at,
        "turn": turn,
        "step": step,
        "kind": kind,
        "detail": dict(detail),
    }


def record_alert(
    session: Session, at: datetime, kind: str, message: str, call_sid: str | None = None
) -> None:
    """Something an operator must look at, in the caller's transaction. The message says what
    happened without personal data (it is logged too)."""
    log.error("alert %s: %s", kind, message)
    ALERTS.labels(kind).inc()
    session.add(AlertRow(at=at, kind=kind, message=message, call_sid=call_sid))


def alert_on_failure(
    db: Database, at: datetime, kind: str, message: str, call_sid: str | None = None
) -> None:
    """An alert raised while handling a failure (seen `at`): in its own transaction, and never
    raising (the database may be what failed: then it is only logged)."""
    try:
        with db.session() as session:
            record_alert(session, at, kind, message, call_sid)
    except Exception:
        log.exception("could not store alert %s", kind)
