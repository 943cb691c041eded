"""§5.2, the unreachable technician: one "time" is counted when every line of a request was
tried and nobody took it (docs/architecture.md, "Readings of the procedure"). At the third in
a row in one on-call period, and at every one after, the regional manager on duty is called
and texted the waiting requests, unless the technician of one of the lines rung declared a
coverage problem (§6 NOTA)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow
from ivr.clock import Clock
from ivr.domain import followup
from ivr.domain.model import Agency
from ivr.domain.oncall import local_date, window_at
from ivr.domain.routing import Action
from ivr.services.calling_again import progress_of
from ivr.services.jobs import JobQueue
from ivr.services.records import record_of, text_values
from ivr.services.reference import ReferenceCache
from ivr.services.sheets import plan_follow_up
from ivr.services.staff import coverage_declared
from ivr.services.trace import add_event, record_alert
from ivr.settings import Settings

UNREACHABLE_LIMIT = 2  # "more than 2 consecutive times": the manager is told at the 3rd
# The requests whose lines the dispatcher tries: at once, or the next morning (made at most the
# evening before the window their lines are tried in).
TRYING = (Action.CALL_NOW.value, Action.CALL_NEXT_MORNING.value)
NIGHT_BEFORE = timedelta(days=1)


@dataclass
class Unreachable:
    db: Database
    settings: Settings
    clock: Clock
    reference: ReferenceCache
    queue: JobQueue

    def count(self, session: Session, call: CallRow, now: datetime) -> None:
        """One "time" (§5.2): every line of the request was tried and nobody took it. At the
        third in a row in one on-call period, and at every one after, the regional manager
        on duty is called and texted the waiting requests."""
        self._event(session, call, "line_unreachable", {})
        session.flush()
        tries = _tries(session, [call.id])
        period = self._period(call, tries[call.id]) if call.id in tries else None
        if period is None:
            return
        agency, start, end = period
        request = aliased(CallRow)  # a call again is reached when its request is
        reached = func.coalesce(CallRow.reached, request.reached)
        candidates = session.execute(
            select(CallRow.id, reached.label("reached"))
            .outerjoin(request, request.id == CallRow.request_id)
            .where(
                CallRow.agency == agency.cia,
                CallRow.action.in_(TRYING),
                CallRow.started_at >= start - NIGHT_BEFORE,
                CallRow.started_at < end,
            )
        ).all()
        # One technician's streak: the requests whose lines were tried in the period, the
        # same lines (an agency's boiler rooms and its individual clients have theirs, in
        # windows that may overlap).
        tries.update(_tries(session, [r.id for r in candidates]))
        lines = tries[call.id].lines
        requests = [
            (r, tries[r.id].at)
            for r in candidates
            if r.id in tries and tries[r.id].lines == lines and start <= tries[r.id].at < end
        ]
        counted = set(
            session.scalars(
                select(CallEventRow.call_id).where(
                    CallEventRow.call_id.in_([r.id for r, _ in requests]),
                    CallEventRow.kind == "line_unreachable",
                )
            )
        )
        streak = followup.unreachable_streak(
            [
                followup.LineRequest(r.id, at, r.reached is not None, r.id in counted)
                for r, at in requests
            ]
        )
        if len(streak) <= UNREACHABLE_LIMIT:
            return
        times = {"times": len(streak)}
        if coverage_declared(session, lines, now):  # §6 NOTA: the technician warned us
            self._event(session, call, "escalation_suspended", times)
            return
        self._event(session, call, "technician_unreachable", times)
        self._escalate_unreachable(session, call, agency, streak, now)

    def _period(self, call: CallRow, tried: Try) -> tuple[Agency, datetime, datetime] | None:
        """The on-call period (window instance) a request's lines were tried in, by the
        directory in force."""
        directory = self.reference.directory(self.db)
        agency = directory.agencies.get(call.agency or "")
        client = self.reference.client(self.db, call.client_id) if call.client_id else None
        if agency is None or client is None:
            return None
        oncall_type = client.oncall_type(local_date(tried.at))
        if oncall_type is None:  # the contract changed since: no period to count in
            return None
        windows = directory.windows_for(agency.cia, oncall_type)
        period = window_at(windows, tried.at, agency.department)
        return (agency, period.start, period.end) if period else None

    def _escalate_unreachable(
        self,
        session: Session,
        call: CallRow,
        agency: Agency,
        streak: list[followup.LineRequest],
        now: datetime,
    ) -> None:
        directory = self.reference.directory(self.db)
        managers = [s.mobile for s in directory.managers_on_duty(agency.region, now)]
        national = self.settings.NATIONAL_DUTY_NUMBER
        chain = tuple(dict.fromkeys([*managers, *filter(None, [national])]))
        if not chain:
            record_alert(session, now, "no_manager", f"agency {agency.cia}: nobody to escalate to")
            return
        purpose = f"unreachable-{call.id}"
        count = str(len(streak))
        # For the request (a call again's is the one it added to): taking it cancels them.
        request_id = _request_of(session, call.id)
        line = followup.call_line(request_id, "manager", chain, now, purpose)
        line.payload["unreachable"] = {"agency": agency.name, "count": count}
        # A client who called again counts each time, but is one waiting request; one the
        # client closed meanwhile, or the agency processed, waits no more.
        requests = [
            request
            for request in dict.fromkeys(_request_of(session, r.call_id) for r in streak)
            if request == request_id or progress_of(session, request) is not None
        ]
        waiting = "; ".join(self._waiting_line(session, request) for request in requests)
        values = {"agency": agency.name, "count": count, "requests": waiting}
        texted = {"to": chain[0], "role": "unreachable", "values": values}
        text = followup.Planned("sms", f"sms:{call.id}:{purpose}", now, texted)
        for job in (line, text):
            self.queue.schedule(session, job.kind, job.key, job.due_at, request_id, job.payload)
        told = {"times": len(streak), "call": call.id, "national": not managers}
        for request in requests:
            self._alerted(session, session.get_one(CallRow, request), told, now)

    def _alerted(
        self, session: Session, request: CallRow, told: dict[str, Any], now: datetime
    ) -> None:
        """A waiting request the manager (or the national duty number) is told of, with the
        others: on its trace, in the manager's alerts when they call in, and on its sheet, or
        on one follow-up when the sheet went (a later escalation's count is on the trace)."""
        told_before = session.scalar(
            select(CallEventRow.id)
            .where(
                CallEventRow.call_id == request.id, CallEventRow.kind == followup.MANAGER_ALERTED
            )
            .limit(1)
        )
        self._event(session, request, followup.MANAGER_ALERTED, told)
        if told_before is None:  # the agency learns it once, on the sheet or a follow-up
            change = {"what": followup.MANAGER_ALERTED, **told, "at": now.isoformat()}
            key = f"followup:{request.id}:alerted"
            plan_follow_up(session, self.queue, request.id, key, change)

    def _waiting_line(self, session: Session, call_id: int) -> str:
        """One waiting request, as the manager's text message lists it."""
        record = record_of(session, session.get_one(CallRow, call_id))
        values = text_values(record, self.reference, self.db)
        return f"réf. {call_id} {values['place']}, {values['fault']}, {values['phone']}"

    def _event(self, session: Session, call: CallRow, kind: str, detail: dict[str, Any]) -> None:
        add_event(session, self.clock.now(), call.id, kind, detail, step="dispatch", turn=call.turn)


class Try(NamedTuple):
    """When a request's lines were tried, and which (its last decision's: a danger found
    later changes it)."""

    at: datetime
    lines: tuple[str, ...]


def _tries(session: Session, call_ids: list[int]) -> dict[int, Try]:
    """When each request's lines were tried, and which: a request to call at once, on its
    call; a next-morning one, at the dispatcher's first line event that morning (the call
    placed, its outcome, or the count itself: a worker that stopped before noting the call
    placed leaves only those). §5.2: "the on-call period is the window instance the requests
    fall in". One taken in hand before the morning was never tried, and is not counted: its
    reach was not that period's."""
    decisions = session.execute(
        select(CallEventRow.call_id, CallRow.started_at, CallEventRow.detail)
        .join(CallRow, CallRow.id == CallEventRow.call_id)
        .where(CallEventRow.call_id.in_(call_ids), CallEventRow.kind == "decision")
        .order_by(CallEventRow.id)
    ).all()
    last = {call_id: (started_at, detail) for call_id, started_at, detail in decisions}
    mornings = {
        call_id: datetime.fromisoformat(detail["call_at"])
        for call_id, (_, detail) in last.items()
        if detail.get("action") == Action.CALL_NEXT_MORNING.value and detail.get("call_at")
    }
    called = session.execute(
        select(CallEventRow.call_id, CallEventRow.at)
        .where(
            CallEventRow.call_id.in_(list(mornings)),
            CallEventRow.kind.startswith("line_", autoescape=True),  # called, its outcome
        )
        .order_by(CallEventRow.at)
    ).all()
    first_called: dict[int, datetime] = {}
    for call_id, at in called:
        if at >= mornings[call_id]:
            first_called.setdefault(call_id, at)
    tries = {}
    for call_id, (started_at, detail) in last.items():
        tried_at = first_called.get(call_id) if call_id in mornings else started_at
        if tried_at is not None:
            tries[call_id] = Try(tried_at, tuple(detail.get("call_numbers") or ()))
    return tries


def _request_of(session: Session, call_id: int) -> int:
    """The request a call is: its own, or the one it added to."""
    return session.get_one(CallRow, call_id).request_id or call_id
