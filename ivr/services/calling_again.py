"""A client who calls again about a request in progress (docs/call-flow.md, "A caller who
calls again"): which request is still in progress, where it stands (from its trace), and what
the new call does to it, in the new call's own transaction.

A request is in progress for `STILL_OPEN` after its call, until the agency marks it processed,
the person who took it reports it solved or not ours, or the client says it is solved.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ivr.adapters.orm import AgencyRow, CallEventRow, CallRow, DialAttemptRow, JobRow
from ivr.domain import followup
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.progress import (
    CLOSED_BY_CLIENT,
    CLOSING,
    SOLVED_BY_CLIENT,
    TAKEN_ON_CALL_AGAIN,
    Progress,
)
from ivr.domain.routing import Action
from ivr.services.jobs import JobQueue
from ivr.services.records import CallRecord
from ivr.services.sheets import plan_follow_up, plan_request_sheets
from ivr.services.trace import add_event
from voice_flows.caller import CallerState

STILL_OPEN = timedelta(hours=24)
# Requests a client may add to: not a danger (its path is the danger path, every time), not
# the agency's legacy arrangement (not ours to follow).
FOLLOWED = (
    Action.CALL_NOW.value,
    Action.CALL_NEXT_MORNING.value,
    Action.FAX_ONLY.value,
    Action.NOT_COVERED.value,
)


def request_in_progress(
    session: Session, now: datetime, client_id: str | None, number: str | None
) -> Progress | None:
    """The latest request in progress of this client, or made from this number."""
    if not (client_id or number):
        return None
    whose = [CallRow.client_id == client_id] if client_id else []
    whose += [CallRow.from_number == number] if number else []
    candidates = session.scalars(
        select(CallRow)
        .where(
            CallRow.flow == "caller",
            CallRow.request_id.is_(None),
            CallRow.ended_at.is_not(None),
            CallRow.processed_at.is_(None),
            CallRow.action.in_(FOLLOWED),
            CallRow.started_at >= now - STILL_OPEN,
            or_(*whose),
        )
        .order_by(CallRow.started_at.desc(), CallRow.id.desc())
        .limit(10)  # a day of one client's requests: a handful
    ).all()
    return next(filter(None, (_progress(session, c) for c in candidates)), None)


def progress_of(session: Session, request_id: int) -> Progress | None:
    """Where a request stands, from its trace; None once it is closed or processed."""
    call = session.get(CallRow, request_id)
    return _progress(session, call) if call is not None else None


def _progress(session: Session, call: CallRow) -> Progress | None:
    if call.processed_at is not None or call.request_id is not None:
        return None
    request_id = call.id
    events = session.execute(
        select(CallEventRow.kind, CallEventRow.at, CallEventRow.detail)
        .where(
            CallEventRow.call_id == request_id,
            CallEventRow.kind.in_(("staff_outcome", "line_reached", CLOSED_BY_CLIENT, "decision")),
        )
        .order_by(CallEventRow.id)
    ).all()
    reports = [e for e in events if e.kind == "staff_outcome"]
    outcome = RequestOutcome(reports[-1].detail["outcome"]) if reports else None
    if outcome in CLOSING or any(e.kind == CLOSED_BY_CLIENT for e in events):
        return None
    decisions = [e.detail for e in events if e.kind == "decision"]
    record = CallRecord(call, CallerState.from_dict(call.state), decisions[-1] if decisions else {})
    call_at = record.decision.get("call_at")
    took = [e.at for e in events if e.kind != "decision"]  # reached, or an outcome reported
    return Progress(
        request_id=call.id,
        called_at=call.started_at,
        action=call.action or "",
        client_id=call.client_id,
        fault=record.state.fault,
        callback=record.callback,
        taken_at=_taken_at(session, request_id, took),
        outcome=outcome,
        slot=reports[-1].detail.get("slot") if reports else None,
        call_at=datetime.fromisoformat(call_at) if call_at else None,
        still_trying=_lines_to_call(session, request_id),
        department=_department(session, call.agency),
    )


def _department(session: Session, agency: str | None) -> str | None:
    """The department of a request's agency (its holidays); None when it has no agency."""
    if agency is None:
        return None
    return session.scalar(select(AgencyRow.department).where(AgencyRow.cia == agency))


def _taken_at(session: Session, request_id: int, reported: list[datetime]) -> datetime | None:
    """When someone first took the request in hand: put through while the client waited (on
    its call or a later one), when the dispatcher called, or on reporting an outcome."""
    put_through = session.scalars(
        select(DialAttemptRow.started_at)
        .join(CallRow, CallRow.id == DialAttemptRow.call_id)
        .where(
            or_(CallRow.id == request_id, CallRow.request_id == request_id),
            DialAttemptRow.accepted.is_(True),
        )
    ).all()
    times = [*put_through, *reported]
    return min(times) if times else None


def _lines_to_call(session: Session, request_id: int) -> bool:
    found = session.scalar(
        select(JobRow.id)
        .where(
            JobRow.call_id == request_id,
            JobRow.kind == "call_line",
            JobRow.payload["role"].as_string() == "technician",  # not a manager told of it
            JobRow.status.in_(("pending", "running", "waiting")),
        )
        .limit(1)
    )
    return found is not None


def called_again(
    session: Session, queue: JobQueue, request_id: int, call_id: int, how: str, turn: int
) -> None:
    """The new call `call_id` adds to the request (`how`: "add", a message and the lines
    tried again if needed; "solved", the client says the problem is solved): on the
    request's trace; solved, the request is closed, what was still to be done to reach
    someone for it cancelled, and the agency told on its sheet."""
    now = queue.clock.now()
    detail: dict[str, Any] = {"call": call_id, "choice": how}
    add_event(session, now, request_id, "called_again", detail, step="in_progress", turn=turn)
    if how != "solved":
        return
    request = session.get_one(CallRow, request_id)
    cancelled = queue.cancel(session, request_id, ("call_line",), SOLVED_BY_CLIENT)
    queue.cancel(session, request_id, ("sms",), SOLVED_BY_CLIENT)
    closed = {"call": call_id, "cancelled": cancelled}  # the calls planned for it, cancelled
    event = add_event(session, now, request_id, CLOSED_BY_CLIENT, closed, step="in_progress")
    change = {"what": CLOSED_BY_CLIENT, "call": call_id, "at": now.isoformat()}
    plan_follow_up(session, queue, request_id, f"followup:{request_id}:{event}", change)
    if request.followed_up_at is not None:  # a sheet waiting for the outcome goes now
        plan_request_sheets(session, queue, request, now)


# The purpose of a new round of calls after a client's call again: "again-<its call id>".
NEW_ROUND = "again-"


def plan_addition(
    session: Session,
    queue: JobQueue,
    call: CallRow,
    numbers: tuple[str, ...],
    retry_at: datetime,
) -> None:
    """Once a call that added to a request has ended: someone it was put through to took the
    request (nobody is called for it any more, and the agency's sheet goes or says so); nobody
    took it, and the dispatcher had no line left to call for it: a new round at `retry_at`
    (the client was told « nous continuons »); the agency's sheet, already gone, is followed
    by a short addition. No job of its own."""
    request = session.get_one(CallRow, call.request_id)
    now = queue.clock.now()
    tried = call.action == Action.CALL_NOW.value
    if numbers and tried and call.reached is None and not _lines_to_call(session, request.id):
        again = f"{NEW_ROUND}{call.id}"
        line = followup.call_line(request.id, "technician", numbers, retry_at, again)
        queue.schedule(session, line.kind, line.key, line.due_at, request.id, line.payload)
    how = session.scalar(
        select(CallEventRow.detail["choice"].as_string()).where(
            CallEventRow.call_id == call.id, CallEventRow.kind == "called_again"
        )
    )
    if call.reached is not None and request.reached is None:
        request.reached = call.reached  # a reach resets the unreachable count
        queue.cancel(session, request.id, ("call_line", "sms"), TAKEN_ON_CALL_AGAIN)
        if request.followed_up_at is not None:
            plan_request_sheets(session, queue, request, now)
    if how != "solved":  # solved: the request's closing told the agency already
        change = {"what": "called_again", "call": call.id, "at": now.isoformat()}
        plan_follow_up(session, queue, request.id, f"followup:{request.id}:again:{call.id}", change)
