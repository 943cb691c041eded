"""The agency's morning: each request of the night as the assistant works from it (who, where,
the number to call back, the fault, danger first, who was reached, the message, what the
technician reported), marked processed in one click, and undone for a few minutes after.
The call page's header is the same card.

A client who called again about their request is on its card (« Le client a rappelé à 23 h 40 :
message ajouté »), never a card of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Exists, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow
from ivr.clock import Clock
from ivr.domain.model import Client
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.progress import CLOSED_BY_CLIENT
from ivr.domain.trace_words import Name, decision_said, label
from ivr.domain.triage import Danger
from ivr.services.accounts import Account
from ivr.services.back_office import Addition, additions, messages, visible
from ivr.services.records import CallRecord
from voice_flows.caller import CallerState

UNDO = timedelta(minutes=5)  # long enough to notice a wrong click, short enough to be over
RECENT = timedelta(hours=24)  # the processed requests shown under the list

ClientOf = Callable[[str], Client | None]
SOLVED_SAYS_THE_CLIENT = "réglé selon le client"


@dataclass(frozen=True)
class Again:
    """A call of the client again about the request, as its card says it."""

    call_id: int
    said: str  # « Le client a rappelé à 23 h 40 : message ajouté (15 s) »
    message_id: int | None  # its message, to play
    message_seconds: int  # a message without `message_id` was deleted


@dataclass(frozen=True)
class RequestCard:
    """One request as the back office shows it at a glance."""

    id: int
    received_at: datetime
    name: str  # « Mme Durand », or « Appelant non identifié »
    place: str  # the town (and street), or the postcode an unidentified caller keyed
    callback: str | None  # E.164
    fault: str
    words: str  # what the caller said of it in their own words (empty: nothing)
    equipment: str
    danger: str  # empty when none
    decision: str
    reached_by: str  # empty when nobody was
    message_id: int | None  # the caller's message, to play
    message_seconds: int
    outcome: str  # what the technician reported, or the client when they called again
    processed_at: datetime | None
    processed_by: str | None
    again: tuple[Again, ...] = ()  # the calls that added to it, in time order


def cards(
    session: Session, calls: list[CallRow], client_of: ClientOf, name: Name
) -> list[RequestCard]:
    """The cards of `calls`, in their order (six queries, whatever their number)."""
    ids = [call.id for call in calls]
    played = messages(session, ids)
    outcomes = _outcomes(session, ids)
    added = additions(session, ids)
    return [
        _card(
            call,
            client_of,
            name,
            played.get(call.id),
            outcomes.get(call.id),
            _again(added.get(call.id, []), call, name),
        )
        for call in calls
    ]


def card(db: Database, call: CallRow, client_of: ClientOf, name: Name) -> RequestCard:
    with db.snapshot() as session:
        return cards(session, [call], client_of, name)[0]


def _again(found: list[Addition], request: CallRow, name: Name) -> tuple[Again, ...]:
    return tuple(
        Again(a.call_id, a.line(name, request.started_at), a.message_id, a.message_seconds)
        for a in found
    )


def _card(
    call: CallRow,
    client_of: ClientOf,
    name: Name,
    message: int | None,
    outcome: str | None,
    again: tuple[Again, ...],
) -> RequestCard:
    record = CallRecord(call, CallerState.from_dict(call.state), {})
    client = client_of(call.client_id) if call.client_id else None
    summary = record.summary(client)
    return RequestCard(
        id=call.id,
        received_at=call.started_at,
        name=summary.name if client else "Appelant non identifié",
        place=summary.place,
        callback=record.callback or call.from_number,
        fault=summary.fault,
        words=record.state.own_words() or "",
        equipment=summary.equipment if client else "",
        danger=label(Danger, call.danger) or summary.danger,  # the column the list sorts by
        decision=decision_said(call.action, call.client_id is not None),
        reached_by=name(call.reached) if call.reached else "",
        message_id=message,
        message_seconds=call.message_seconds,
        outcome=outcome or "",
        processed_at=call.processed_at,
        processed_by=call.processed_by,
        again=again,
    )


def _outcomes(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The last outcome each request's technician reported, in words; « réglé selon le
    client » once the client called again to say so."""
    rows = session.execute(
        select(CallEventRow.call_id, CallEventRow.kind, CallEventRow.detail)
        .where(
            CallEventRow.call_id.in_(ids),
            CallEventRow.kind.in_(("staff_outcome", CLOSED_BY_CLIENT)),
        )
        .order_by(CallEventRow.id)
    )
    said: dict[int, str] = {}
    solved: set[int] = set()
    for call_id, kind, detail in rows:
        if kind == CLOSED_BY_CLIENT:
            solved.add(call_id)
            continue
        words = detail.get("label") or label(RequestOutcome, detail.get("outcome"))
        said[call_id] = words + (f", {detail['slot']}" if detail.get("slot") else "")
    for call_id in solved:
        said[call_id] = " ; ".join(filter(None, [said.get(call_id), SOLVED_SAYS_THE_CLIENT]))
    return said


@dataclass(frozen=True)
class Morning:
    to_process: list[RequestCard]  # danger first, then the oldest
    processed: list[RequestCard]  # in the last day, the newest first


def _event(kind: str) -> Exists:
    """The call has an event of `kind` on its trace."""
    return exists().where(CallEventRow.call_id == CallRow.id, CallEventRow.kind == kind)


def _decided_later() -> Exists:
    """The call's client called again later and got a decision (their request, or an
    addition to one)."""
    later = aliased(CallRow)
    return exists().where(
        later.client_id == CallRow.client_id,
        later.started_at > CallRow.started_at,
        later.action.is_not(None),
    )


def morning(db: Database, clock: Clock, who: Account, client_of: ClientOf, name: Name) -> Morning:
    with db.snapshot() as session:
        waiting = session.scalars(
            visible(select(CallRow), who)
            .where(
                CallRow.request_id.is_(None),  # a call again is on its request's card
                CallRow.processed_at.is_(None),
                CallRow.ended_at.is_not(None),
                # A decision, a message, or a client who confirmed who they are and hung up
                # before either: their heating is why they called at night, and nobody else
                # will call them back (not one told of their request in progress, nor one
                # who called back and got a decision: those are listed already).
                or_(
                    CallRow.action.is_not(None),
                    CallRow.message_seconds > 0,
                    and_(
                        _event("client_confirmed"),
                        ~_event("request_in_progress"),
                        ~_decided_later(),
                    ),
                ),
            )
            .order_by(CallRow.danger.is_(None), CallRow.started_at)
            .limit(200)
        ).all()
        done = session.scalars(
            visible(select(CallRow), who)
            .where(CallRow.request_id.is_(None), CallRow.processed_at >= clock.now() - RECENT)
            .order_by(CallRow.processed_at.desc())
            .limit(50)
        ).all()
        return Morning(
            cards(session, list(waiting), client_of, name),
            cards(session, list(done), client_of, name),
        )


def undoable(card: RequestCard, who: Account, now: datetime) -> bool:
    """Its own click, a few minutes old at most."""
    return (
        card.processed_at is not None
        and card.processed_by == who.email
        and now - card.processed_at <= UNDO
    )


def mark_processed(db: Database, clock: Clock, who: Account, call_id: int) -> bool:
    """A request processed; never a call that added to one (its request is processed)."""
    with db.session() as session:
        call = session.scalar(visible(select(CallRow).where(CallRow.id == call_id), who))
        if call is None or call.processed_at is not None or call.request_id is not None:
            return False
        call.processed_at, call.processed_by = clock.now(), who.email
        return True


def undo_processed(db: Database, clock: Clock, who: Account, call_id: int) -> bool:
    """Back to the list: only one's own mark, within `UNDO` of it."""
    with db.session() as session:
        call = session.scalar(visible(select(CallRow).where(CallRow.id == call_id), who))
        if call is None or call.processed_at is None or call.processed_by != who.email:
            return False
        if clock.now() - call.processed_at > UNDO:
            return False
        call.processed_at, call.processed_by = None, None
        return True
