"""The technicians' and managers' side of the phone (§6): who they are, their PINs, the
requests waiting for them, what they report back, their declared coverage problems."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased
from werkzeug.security import check_password_hash, generate_password_hash

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow, CoverageRow, RecordingRow, StaffPinRow
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.model import Directory
from ivr.domain.outcomes import Report
from ivr.domain.progress import CLOSED_BY_CLIENT
from ivr.services import caller_texts
from ivr.services.jobs import JobQueue
from ivr.services.sheets import plan_follow_up, plan_request_sheets
from ivr.services.trace import add_event

MAX_COVERAGE_HOURS = 24
WAITING_SINCE = timedelta(hours=24)


class StaffError(ValueError):
    """A PIN or a number that cannot be set, said so an administrator can act on it."""


@dataclass(frozen=True)
class Staff:
    number: str
    role: str  # technician | manager
    agency: str | None
    region: str | None


def staff_of(directory: Directory, number: str | None) -> Staff | None:
    """The on-call line or the regional manager this number is, if any."""
    if not number:
        return None
    for cia, lines in directory.lines.items():
        if any(line.mobile == number for line in lines):
            agency = directory.agencies.get(cia)
            return Staff(number, "technician", cia, agency.region if agency else None)
    for region, shifts in directory.shifts.items():
        if any(s.mobile == number for s in shifts):
            return Staff(number, "manager", None, region)
    return None


def set_pin(
    db: Database, clock: Clock, directory: Directory, number: str, pin: str, by: str
) -> None:
    if staff_of(directory, number) is None:
        raise StaffError(f"{number} is neither an on-call line nor a regional manager")
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):  # keypad digits
        raise StaffError("a PIN is 4 to 8 digits")
    with db.session() as session:
        row = session.get(StaffPinRow, number)
        if row is None:
            row = StaffPinRow(number=number, pin_hash="", set_at=clock.now(), set_by=by)
            session.add(row)
        row.pin_hash, row.set_at, row.set_by = generate_password_hash(pin), clock.now(), by


def pin_ok(db: Database, numbers: list[str], pin: str) -> str | None:
    """Which of `numbers` this PIN is the PIN of, if any."""
    if not pin.isdigit():
        return None
    with db.snapshot() as session:
        rows = session.scalars(select(StaffPinRow).where(StaffPinRow.number.in_(numbers))).all()
    return next((r.number for r in rows if check_password_hash(r.pin_hash, pin)), None)


@dataclass(frozen=True)
class Waiting:
    """A request waiting for someone to take it in hand, as the staff hear it."""

    call_id: int
    started_at: datetime
    client_id: str | None
    fault: str | None
    danger: str | None
    agency: str | None
    message_seconds: int
    callback: str | None
    message_url: str | None = None


def _waiting(session: Session, rows: Sequence[CallRow]) -> list[Waiting]:
    messages = {
        m.call_id: m.url
        for m in session.scalars(
            select(RecordingRow).where(
                RecordingRow.call_id.in_([r.id for r in rows]), RecordingRow.kind == "message"
            )
        )
    }
    return [
        Waiting(
            r.id,
            r.started_at,
            r.client_id,
            r.fault,
            r.danger,
            r.agency,
            r.message_seconds,
            r.state.get("callback") or r.state.get("caller"),
            messages.get(r.id),
        )
        for r in rows
    ]


def waiting_requests(db: Database, clock: Clock, agency: str) -> list[Waiting]:
    """The agency's requests of the last day nobody took in hand yet, newest first."""
    with db.snapshot() as session:
        rows = session.scalars(
            select(CallRow)
            .where(
                CallRow.agency == agency,
                CallRow.request_id.is_(None),  # a call again is heard with its request
                CallRow.id.not_in(_closed_by_client()),
                CallRow.ended_at.is_not(None),
                CallRow.reached.is_(None),
                CallRow.processed_at.is_(None),
                CallRow.action.in_(("call_now", "call_next_morning", "fax_only", "not_covered")),
                CallRow.started_at >= clock.now() - WAITING_SINCE,
            )
            .order_by(CallRow.started_at.desc())
            .limit(9)
        ).all()
        return _waiting(session, rows)


def _closed_by_client() -> Select[Any]:
    return select(CallEventRow.call_id).where(CallEventRow.kind == CLOSED_BY_CLIENT)


def request_of(db: Database, call_id: int) -> Waiting | None:
    """A caller's request, as the staff hear it, whatever became of it."""
    with db.snapshot() as session:
        row = session.get(CallRow, call_id)
        return _waiting(session, [row])[0] if row is not None and row.flow == "caller" else None


def declare_coverage(
    session: Session, at: datetime, number: str, agency: str, hours: int, call_id: int | None
) -> datetime:
    """§6 NOTA: the line's missed calls do not raise the regional manager for `hours`."""
    until = at + timedelta(hours=max(1, min(hours, MAX_COVERAGE_HOURS)))
    session.add(
        CoverageRow(number=number, agency=agency, declared_at=at, until=until, call_id=call_id)
    )
    return until


def coverage_declared(session: Session, lines: Collection[str], at: datetime) -> bool:
    """Whether the technician of one of `lines` declared a coverage problem in force at `at`
    (§6 NOTA: their missed calls, not those of the agency's other lines)."""
    found = session.scalar(
        select(CoverageRow.id).where(
            CoverageRow.number.in_(lines), CoverageRow.declared_at <= at, CoverageRow.until > at
        )
    )
    return found is not None


def record_outcome(
    session: Session, queue: JobQueue, call_id: int, report: Report, keep_job: int | None = None
) -> None:
    """What the person who took a request reports of it, in the caller's transaction: on its
    trace; it counts as taken, so what the dispatcher still had to do to reach someone for it
    is cancelled (a next-morning call, a call or text again), but `keep_job`: the call the
    report was made on. The agency gets its sheet now if it was waiting for the outcome, and
    a follow-up sheet of a final outcome if its sheet went already."""
    call = session.get(CallRow, call_id)
    if call is not None and call.request_id is not None:  # a call that added to a request
        call = session.get(CallRow, call.request_id)
    if call is None:
        return
    call_id, by, outcome = call.id, report.by, report.outcome
    call.reached = call.reached or by
    queue.cancel(session, call_id, ("call_line", "sms"), f"dealt with by {by}", except_job=keep_job)
    detail: dict[str, Any] = {"outcome": outcome.value, "label": outcome.label, "by": by}
    if report.slot:
        detail["slot"] = report.slot
    if keep_job is not None:
        detail["job"] = keep_job  # reported on the dispatcher's call, not their own
    at = queue.clock.now()
    event = add_event(session, at, call_id, "staff_outcome", detail, step="staff", turn=call.turn)
    caller_texts.plan_news(session, queue, call, outcome)
    if outcome.final:
        change = {"what": "reported", **detail, "at": at.isoformat()}
        plan_follow_up(session, queue, call_id, f"followup:{call_id}:{event}", change)
    if call.followed_up_at is not None:  # the call was planned: its sheet is due now
        plan_request_sheets(session, queue, call, at)


def manager_region(directory: Directory, number: str | None) -> str | None:
    found = staff_of(directory, number)
    return found.region if found and found.role == "manager" else None


def alerts(db: Database, clock: Clock, directory: Directory, region: str) -> list[Waiting]:
    """The escalations of the last day in a region no manager acknowledged yet: danger calls
    first, then the requests a manager was told of when a technician was unreachable (nobody
    took them since)."""
    agencies = [cia for cia, a in directory.agencies.items() if a.region == region]
    since = clock.now() - WAITING_SINCE
    with db.snapshot() as session:
        raised = select(CallEventRow.call_id).where(
            CallEventRow.kind.in_(("technician_unreachable", followup.MANAGER_ALERTED))
        )
        # Raised on a client's call again: the alert is about the request it added to.
        call = aliased(CallRow)
        unreachable = select(func.coalesce(call.request_id, call.id)).where(call.id.in_(raised))
        # Taken in hand, or closed by the client: nothing more to do for it.
        acknowledged = select(CallEventRow.call_id).where(
            CallEventRow.kind.in_(("staff_outcome", CLOSED_BY_CLIENT))
        )
        rows = session.scalars(
            select(CallRow)
            .where(
                CallRow.started_at >= since,
                CallRow.ended_at.is_not(None),
                (CallRow.action == "escalate") | CallRow.id.in_(unreachable),
                CallRow.reached.is_(None),  # someone took it while the caller waited, or since
                CallRow.processed_at.is_(None),  # the agency saw to it
                CallRow.agency.in_(agencies) | (CallRow.agency.is_(None)),
                CallRow.id.not_in(acknowledged),
            )
            .order_by(CallRow.action != "escalate", CallRow.started_at.desc())
            .limit(9)  # a night's alerts: a handful; dangers never pushed out
        ).all()
        mine = [r for r in rows if r.agency in agencies or r.state.get("region") == region]
        return _waiting(session, mine)
