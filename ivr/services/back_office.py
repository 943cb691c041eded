"""What the back office shows and changes (its queries; the views only render): calls within
an account's reach, a call's whole trace, jobs to retry, the overview of the front page and of
operations, the client file searched. The agency's morning: ivr.services.agency_morning.

A call that added to a request in progress (`CallRow.request_id`: the client called again) is
no request of its own: it is shown under its request (`additions`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from ivr.adapters.db import Database
from ivr.adapters.orm import (
    AgencyRow,
    AlertRow,
    AuditRow,
    CallEventRow,
    CallRow,
    CoverageRow,
    DialAttemptRow,
    ImportRecord,
    JobRow,
    RecordingRow,
    WorkerBeatRow,
)
from ivr.adapters.repository import client_count, table_in_force
from ivr.clock import Clock
from ivr.domain.local_time import PARIS
from ivr.domain.progress import lines_called
from ivr.domain.trace_words import CALL_OUTCOMES, Name, addition_said, at_said, job_state
from ivr.services.accounts import Account
from ivr.services.retention import DELETED

PAGE = 25


@dataclass(frozen=True)
class CallFilter:
    night: date | None = None  # the night starting that evening (18:00 to 08:00, Paris)
    agency: str | None = None
    action: str | None = None
    danger: bool | None = None
    reached: bool | None = None
    page: int = 1


S = TypeVar("S", bound=Select[Any])


def visible(query: S, who: Account) -> S:  # a Select of any row shape
    """Only the calls the account may see: all, their region's, their agency's."""
    if who.role == "admin":
        return query
    return query.where(CallRow.agency.in_(_agencies(who)))


def calls(db: Database, who: Account, wanted: CallFilter) -> tuple[list[CallRow], int]:
    """A page of requests, newest first, and how many in all. A call that added to a request
    is left to its request (`additions`), unless its request is not in the list (another
    night, another decision): then it is listed, as a call again of that request."""
    matching = _matching(CallRow, wanted)
    query = visible(select(CallRow), who).where(*matching)
    if matching:
        request = aliased(CallRow)
        listed = select(request.id).where(*_matching(request, wanted))
        query = query.where(or_(CallRow.request_id.is_(None), CallRow.request_id.not_in(listed)))
    else:
        query = query.where(CallRow.request_id.is_(None))
    with db.snapshot() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(
            query.order_by(CallRow.started_at.desc(), CallRow.id.desc())
            .limit(PAGE)
            # A page typed past any list lists nothing, within the database's integers.
            .offset((min(max(wanted.page, 1), 10**9) - 1) * PAGE)
        ).all()
    return list(rows), total


def _matching(call: Any, wanted: CallFilter) -> list[ColumnElement[bool]]:
    """The filter's conditions on `call` (CallRow, or an alias of it)."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.night is not None:
        start = datetime.combine(wanted.night, time(18), PARIS)
        conditions += [call.started_at >= start, call.started_at < start + timedelta(hours=14)]
    if wanted.agency:
        conditions.append(call.agency == wanted.agency)
    if wanted.action:
        conditions.append(call.action == wanted.action)
    if wanted.danger is not None:
        conditions.append(call.danger.is_not(None) if wanted.danger else call.danger.is_(None))
    if wanted.reached is not None:
        conditions.append(call.reached.is_not(None) if wanted.reached else call.reached.is_(None))
    return conditions


@dataclass(frozen=True)
class Addition:
    """A call that added to a request in progress: the client called again, and chose to add
    a message (its lines tried again if nobody had taken it), or said the problem solved."""

    call_id: int
    at: datetime
    choice: str  # "add" or "solved" (`called_again`)
    tried_lines: bool  # the technician's lines were tried during the call
    tried_before: bool  # ... as they had been for the request (not a fax-only one's first)
    reached: str | None  # whom it was put through to, then
    message_id: int | None  # its message, to play; None when none or deleted
    message_seconds: int

    def said(self, name: Name) -> str:
        """« message ajouté (15 s) », « problème réglé, demande close » ..."""
        reached = name(self.reached) if self.reached else ""
        return addition_said(
            self.choice, self.tried_lines, self.tried_before, reached, self.message_seconds
        )

    def line(self, name: Name, request_at: datetime) -> str:
        """« Le client a rappelé à 23 h 40 : message ajouté (15 s) »."""
        return f"Le client a rappelé {at_said(self.at, request_at)} : {self.said(name)}"


def additions(session: Session, request_ids: list[int]) -> dict[int, list[Addition]]:
    """The calls that added to each request, in time order (three queries in all)."""
    request = aliased(CallRow)
    rows = session.execute(
        select(CallRow, request.action)
        .join(request, request.id == CallRow.request_id)
        .where(CallRow.request_id.in_(request_ids))
        .order_by(CallRow.started_at, CallRow.id)
    ).all()
    ids = [row.id for row, _ in rows]
    chosen = session.execute(
        select(CallEventRow.call_id, CallEventRow.detail["choice"].as_string()).where(
            CallEventRow.call_id.in_(ids), CallEventRow.kind == "called_again"
        )
    )
    choices: dict[int, str | None] = {call_id: choice for call_id, choice in chosen}
    played = messages(session, ids)
    found: dict[int, list[Addition]] = {}
    for row, request_action in rows:
        if row.request_id is None:
            continue
        found.setdefault(row.request_id, []).append(
            Addition(
                call_id=row.id,
                at=row.started_at,
                choice=choices.get(row.id) or "",
                tried_lines=lines_called(row.action),
                tried_before=lines_called(request_action),
                reached=row.reached,
                message_id=played.get(row.id),
                message_seconds=row.message_seconds,
            )
        )
    return found


def additions_of(db: Database, request_ids: list[int]) -> dict[int, list[Addition]]:
    with db.snapshot() as session:
        return additions(session, request_ids)


def messages(session: Session, call_ids: list[int]) -> dict[int, int]:
    """Each call's message still kept (its recording's id), to play."""
    rows = session.execute(
        select(RecordingRow.call_id, RecordingRow.id)
        .where(
            RecordingRow.call_id.in_(call_ids),
            RecordingRow.kind == "message",
            RecordingRow.status != DELETED,
        )
        .order_by(RecordingRow.id)
    )
    return {call_id: recording_id for call_id, recording_id in rows if call_id is not None}


@dataclass(frozen=True)
class CallTrace:
    call: CallRow
    events: list[CallEventRow]
    attempts: list[DialAttemptRow]
    recordings: list[RecordingRow]
    jobs: list[JobRow]

    def placed(self, name: Name) -> list[PlacedCall]:
        """Every call placed for the request, in time order: put through while the caller
        waited, then the dispatcher's calls to the lines."""
        placed = [
            PlacedCall(
                a.started_at,
                name(a.number),
                "mise en relation pendant l'appel",
                "a pris l'appel"
                if a.accepted
                else CALL_OUTCOMES.get(a.outcome or "", "sans suite"),
            )
            for a in self.attempts
        ]
        placed += [
            PlacedCall(
                job.done_at or job.due_at,
                name(job.payload["numbers"][job.payload["index"]]),
                "appelé par le service d'astreinte",
                job_state(job.status, job.outcome),
            )
            for job in self.jobs
            if job.kind == "call_line"
        ]
        return sorted(placed, key=lambda p: p.at)


@dataclass(frozen=True)
class PlacedCall:
    at: datetime
    who: str
    how: str
    outcome: str


def trace(db: Database, who: Account, call_id: int) -> CallTrace | None:
    """A call's whole trace, if the account may see it."""
    with db.snapshot() as session:
        call = session.scalar(visible(select(CallRow).where(CallRow.id == call_id), who))
        if call is None:
            return None
        return CallTrace(
            call,
            _of(session, CallEventRow, call_id, CallEventRow.id),
            _of(session, DialAttemptRow, call_id, DialAttemptRow.id),
            _of(session, RecordingRow, call_id, RecordingRow.id),
            _of(session, JobRow, call_id, JobRow.id),
        )


def _of(session: Session, row: Any, call_id: int, order: Any) -> list[Any]:
    return list(session.scalars(select(row).where(row.call_id == call_id).order_by(order)))


def recording(db: Database, who: Account, recording_id: int) -> RecordingRow | None:
    with db.snapshot() as session:
        row = session.get(RecordingRow, recording_id)
        if row is None:
            return None
        if row.call_id is None:  # a message of the safe path, its call never stored
            return row if who.role == "admin" else None
        allowed = session.scalar(visible(select(CallRow.id).where(CallRow.id == row.call_id), who))
        return row if allowed else None


def retryable(job: JobRow) -> bool:
    """What may be done again by hand: a job that failed; a sheet sent (the agency's fax out
    of paper). Never a call or a text that went: a technician would be woken again."""
    return job.status == "failed" or (job.kind == "sheet" and job.status == "done")


def retry_job(db: Database, clock: Clock, job_id: int) -> bool:
    """A job `retryable` tried again now, from its first attempt."""
    with db.session() as session:
        job = session.get(JobRow, job_id)
        if job is None or not retryable(job):
            return False
        result = session.execute(
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.status == job.status)
            .values(
                status="pending",
                due_at=clock.now(),
                attempts=0,
                provider_ref=None,
                lease_until=None,
                updated_at=clock.now(),
            )
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def job_in_reach(db: Database, who: Account, job_id: int) -> JobRow | None:
    """A job of a call the account may see."""
    with db.snapshot() as session:
        job = session.get(JobRow, job_id)
    if job is None or job.call_id is None or trace(db, who, job.call_id) is None:
        return None
    return job


def agency_codes(db: Database, who: Account) -> list[str]:
    """The agencies whose calls the account may see."""
    with db.snapshot() as session:
        return list(session.scalars(_agencies(who).order_by(AgencyRow.cia)))


def _agencies(who: Account) -> Select[str]:
    """The agencies within an account's reach: all, its region's, its own."""
    query = select(AgencyRow.cia)
    if who.role == "manager":
        return query.where(AgencyRow.region == who.region)
    if who.role != "admin":
        return query.where(AgencyRow.cia == who.agency)
    return query


@dataclass(frozen=True)
class Overview:
    """The front page: what the app answers from."""

    clients: int
    agencies: int
    imports: list[ImportRecord]


def overview(db: Database, who: Account) -> Overview:
    """The counts within the account's reach: the company's, a region's, an agency's."""
    with db.snapshot() as session:
        agencies = _agencies(who)
        return Overview(
            _clients_of(session, agencies) if who.role != "admin" else client_count(session),
            session.scalar(select(func.count()).select_from(agencies.subquery())) or 0,
            list(session.scalars(select(ImportRecord).order_by(ImportRecord.id.desc()).limit(5))),
        )


def _clients_of(session: Session, agencies: Select[str]) -> int:
    table = table_in_force(session)
    if table is None:
        return 0
    count = select(func.count()).select_from(table).where(table.c.agency.in_(agencies))
    return session.scalar(count) or 0


@dataclass(frozen=True)
class Operations:
    """What an operator looks at: work under way or failed, alerts, escalations, imports,
    the audit log, declared coverage problems."""

    jobs: list[JobRow]
    alerts: list[AlertRow]
    escalations: list[JobRow]
    imports: list[ImportRecord]
    audit_log: list[AuditRow]
    coverage: list[CoverageRow]
    workers: list[WorkerBeatRow]  # each `ivr worker`, the last seen first
    emergency_messages: list[RecordingRow]  # left on the safe path, the newest first
    due: int  # jobs due and not started
    oldest_due: datetime | None  # the longest waiting of them: how late the workers are


def operations(db: Database, now: datetime) -> Operations:
    under_way = ("pending", "waiting", "running")
    due, oldest = _due(db, now)
    with db.snapshot() as session:
        workers = session.scalars(
            select(WorkerBeatRow).order_by(WorkerBeatRow.seen_at.desc()).limit(20)
        )
        jobs = session.scalars(
            select(JobRow)
            .where(JobRow.status.in_((*under_way, "failed")))
            .order_by(JobRow.due_at)
            .limit(100)
        )
        calls_under_way = session.scalars(
            select(JobRow)
            .where(JobRow.kind == "call_line", JobRow.status.in_(under_way))
            .order_by(JobRow.due_at)
        )
        return Operations(
            list(jobs),
            _newest(session, AlertRow, 50),
            [job for job in calls_under_way if job.payload.get("role") == "manager"],
            _newest(session, ImportRecord, 20),
            _newest(session, AuditRow, 50),
            _newest(session, CoverageRow, 20),
            list(workers),
            list(
                session.scalars(
                    select(RecordingRow)
                    .where(RecordingRow.kind == "emergency")
                    .order_by(RecordingRow.id.desc())
                    .limit(20)
                )
            ),
            due,
            oldest,
        )


def _due(db: Database, now: datetime) -> tuple[int, datetime | None]:
    """How many jobs are due and not started, and when the oldest of them fell due."""
    with db.snapshot() as session:
        count, oldest = session.execute(
            select(func.count(), func.min(JobRow.due_at)).where(
                JobRow.status == "pending", JobRow.due_at <= now
            )
        ).one()
    return int(count), oldest


def jobs_due(db: Database, now: datetime) -> tuple[int, float]:
    """`_due` for a scrape: the count, and how long the oldest has waited (s)."""
    count, oldest = _due(db, now)
    return count, (now - oldest).total_seconds() if oldest else 0.0


def _newest(session: Session, row: Any, count: int) -> list[Any]:
    return list(session.scalars(select(row).order_by(row.id.desc()).limit(count)))


def search_clients(db: Database, query: str) -> list[Any]:
    """Clients of the file in force by contract number, name, town or phone."""
    with db.snapshot() as session:
        table = table_in_force(session)
        if table is None:
            return []
        pattern = f"%{query}%"
        return list(
            session.execute(
                select(table)
                .where(
                    (table.c.client_id == query)
                    | table.c.name.ilike(pattern)
                    | table.c.city.ilike(pattern)
                    | (table.c.phone == query)
                )
                .order_by(table.c.client_id)
                .limit(50)
            )
        )
