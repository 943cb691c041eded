"""What the dispatcher does once a caller's call has ended (docs/procedure.md §5.2): pure rules.

The call's decision (`ivr.domain.routing`) and how the call went give the jobs to schedule:
call the technician (now, or next morning), call the manager on duty, text them, send the
summary sheet. Each job has a key, so that planning the same call twice plans nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ivr.domain.routing import Action


@dataclass(frozen=True)
class EndedCall:
    call_id: int
    ended_at: datetime
    action: str | None
    call_at: datetime | None
    call_numbers: tuple[str, ...]
    fax_numbers: tuple[str, ...]
    reached: bool  # someone took the call while the caller was on the line
    national_duty_number: str | None = None
    reached_by: str | None = None  # who
    agency_fax: str | None = None  # the agency the request is for, when it is known


@dataclass(frozen=True)
class Planned:
    kind: str  # call_line | sms | sheet
    key: str
    due_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def follow_up(call: EndedCall) -> list[Planned]:
    """The jobs that follow an ended call."""
    action = Action(call.action) if call.action else None
    if action is Action.CALL_NOW and not call.reached and call.call_numbers:
        # Nobody took the call: call the line again, text it; the sheet waits for the outcome.
        return [
            call_line(call.call_id, "technician", call.call_numbers, call.ended_at, "request"),
            _sms(call, call.call_numbers[0], "technician", call.ended_at),
        ]
    if action is Action.CALL_NEXT_MORNING and call.call_at is not None and call.call_numbers:
        return [
            call_line(call.call_id, "technician", call.call_numbers, call.call_at, "next_morning"),
            _sms(call, call.call_numbers[0], "technician", call.call_at),
            *sheets(call.call_id, call.fax_numbers, call.ended_at),
        ]
    if action is Action.ESCALATE:
        # Danger: the sheets at once, whatever comes next; the manager is texted the summary
        # even when they took the call, and called again when they did not.
        chain = tuple(
            dict.fromkeys((*call.call_numbers, *filter(None, [call.national_duty_number])))
        )
        texted = call.reached_by or (chain[0] if chain else None)
        jobs = [_sms(call, texted, "manager", call.ended_at)] if texted else []
        if chain and not call.reached:
            jobs.insert(0, call_line(call.call_id, "manager", chain, call.ended_at, "danger"))
        return [*jobs, *sheets(call.call_id, call.fax_numbers, call.ended_at)]
    if action in (Action.CALL_NOW, Action.FAX_ONLY):
        return sheets(call.call_id, call.fax_numbers, call.ended_at)
    if action is Action.NOT_COVERED and call.agency_fax:
        # A message for the agency (§5.1.1): its sheet says so; nobody is called.
        return sheets(call.call_id, (call.agency_fax,), call.ended_at)
    if action is Action.LEGACY and not call.reached and call.agency_fax:
        # Its usual arrangement did not take the call: the message would reach nobody else.
        return sheets(call.call_id, (call.agency_fax,), call.ended_at)
    return []  # legacy, taken: the agency's usual arrangement has the call


def call_line(
    call_id: int,
    role: str,
    numbers: tuple[str, ...],
    due_at: datetime,
    purpose: str,
    index: int = 0,
    round_: int = 1,
) -> Planned:
    """Call `numbers[index]` (one line of the chain, in priority order)."""
    return Planned(
        "call_line",
        f"call:{call_id}:{purpose}:{round_}:{index}",
        due_at,
        {
            "role": role,
            "numbers": list(numbers),
            "index": index,
            "round": round_,
            "purpose": purpose,
        },
    )


def next_in_chain(
    call_id: int, payload: dict[str, Any], now: datetime, retry_at: datetime, rounds: int
) -> Planned | None:
    """After a line was not reached: the next line, else the first again at `retry_at`
    (up to `rounds` rounds), else nothing: the chain is exhausted."""
    numbers = tuple(payload["numbers"])
    index, round_ = int(payload["index"]), int(payload["round"])
    role, purpose = str(payload["role"]), str(payload["purpose"])
    if index + 1 < len(numbers):
        return call_line(call_id, role, numbers, now, purpose, index + 1, round_)
    if round_ < rounds:
        return call_line(call_id, role, numbers, retry_at, purpose, 0, round_ + 1)
    return None


def sheets(call_id: int, fax_numbers: tuple[str, ...], due_at: datetime) -> list[Planned]:
    """One sheet per fax number, each delivered (and retried) on its own."""
    return [
        Planned("sheet", f"sheet:{call_id}:{number}", due_at, {"to": number})
        for number in dict.fromkeys(fax_numbers)
    ]


def _sms(call: EndedCall, to: str, role: str, due_at: datetime) -> Planned:
    return Planned("sms", f"sms:{call.call_id}:{to}", due_at, {"to": to, "role": role})


@dataclass(frozen=True)
class LineRequest:
    """A request for which an agency's on-call line was tried: while the caller waited, or
    by the dispatcher the next morning."""

    call_id: int
    at: datetime  # when its lines were tried: its call, or the morning's call
    reached: bool  # someone took it then, or later when the dispatcher called
    tried: bool = True  # every line was tried (a request still being tried does not count)


# The event of each waiting request a regional manager is told of when the streak escalates.
MANAGER_ALERTED = "manager_alerted"


def unreachable_streak(requests: Sequence[LineRequest]) -> list[LineRequest]:
    """The latest requests of one on-call period whose lines were all tried and that nobody
    took, in a row (oldest first). A request someone took ends the streak (§5.2, "a reach
    resets the count"); one whose lines are still being tried neither counts nor resets."""
    streak: list[LineRequest] = []
    for request in sorted(requests, key=lambda r: (r.at, r.call_id), reverse=True):
        if request.reached:
            break
        if request.tried:
            streak.append(request)
    return streak[::-1]


# --- Which due job goes first -------------------------------------------------------------
# At 08:00 on a Saturday a thousand next-morning calls fall due at once: a danger arriving then
# must not wait behind them, here nor in Twilio's queue. Lower goes first; equal, the earlier.
DANGER, CALLER_WAITING, NEXT_MORNING, PAPERWORK, HOUSEKEEPING = range(5)


def priority(kind: str, payload: Mapping[str, Any]) -> int:
    """Danger and escalations (anything for a regional manager), then the calls on behalf of a
    caller who just hung up, then next-morning calls, then sheets and texts, then the rest
    (imports, retention)."""
    if payload.get("role") in ("manager", "unreachable") or payload.get("purpose") == "danger":
        return DANGER
    if kind == "call_line":
        return NEXT_MORNING if payload.get("purpose") == "next_morning" else CALLER_WAITING
    if kind == "alert_notice":  # an operator told of trouble (ivr.services.alerting)
        return CALLER_WAITING
    if kind in ("sheet", "sms"):
        return PAPERWORK
    return HOUSEKEEPING
