"""Text messages to the client (docs/call-flow.md, "Texts to the client"): after their call, a
confirmation with the reference and what happens next; then, when the person who took the
request reports being on the way or a time slot, that news. They are part of the service
(no marketing): sent only to a mobile, only when `CALLER_TEXTS` is on, never to a number that
answered STOP (`stop`), each on the request's trace once sent.

A text says what a voice would say to the client calling again (`ivr.domain.progress`): the
same prompt, so the same true words."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import CallRow, JobRow, TextOptOutRow
from ivr.domain.outcomes import RequestOutcome
from ivr.domain.phones import is_mobile
from ivr.domain.progress import where_it_stands
from ivr.services.calling_again import progress_of
from ivr.services.jobs import JobQueue

NEWS = (RequestOutcome.ON_MY_WAY, RequestOutcome.SLOT)  # what the client is texted of
CONFIRMATION, NEWS_PROMPT = "sms_caller", "sms_caller_news"


def _key(call_id: int) -> str:
    return f"sms:{call_id}:caller"


def plan_confirmation(session: Session, queue: JobQueue, call: CallRow, now: datetime) -> None:
    """After the call, once its jobs are planned: the confirmation to the number the client
    gave to be called back on, when it is a mobile that did not answer STOP."""
    if call.agency is None:  # an unknown caller of no known agency: nobody has the request
        return
    progress = progress_of(session, call.id)
    to = progress.callback if progress else None
    if progress is None or to is None or not is_mobile(to) or opted_out(session, to):
        return
    payload = _payload(to, CONFIRMATION, where_it_stands(progress, now))
    queue.schedule(session, "sms", _key(call.id), now, call.id, payload)


def plan_news(session: Session, queue: JobQueue, call: CallRow, outcome: RequestOutcome) -> None:
    """What the person who took the request reported, when the client is told of it: being
    on the way, a time slot. Only to a client who was sent the confirmation."""
    if outcome not in NEWS:
        return
    confirmation = session.scalar(select(JobRow.payload).where(JobRow.key == _key(call.id)))
    progress = progress_of(session, call.id) if confirmation else None
    if confirmation is None or progress is None:
        return
    now = queue.clock.now()
    payload = _payload(confirmation["to"], NEWS_PROMPT, where_it_stands(progress, now))
    key = f"{_key(call.id)}:{outcome.value}:{now.isoformat()}"
    queue.schedule(session, "sms", key, now, call.id, payload)


def _payload(to: str, prompt: str, said: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """The text's prompt and where the request stands, drawn in words when it is sent."""
    return {"to": to, "role": "caller", "prompt": prompt, "progress": list(said)}


def opted_out(session: Session, number: str | None) -> bool:
    return number is not None and session.get(TextOptOutRow, number) is not None


def stop(db: Database, number: str, at: datetime) -> None:
    """The number answered STOP: it is not texted again (until START)."""
    with db.session() as session:
        if session.get(TextOptOutRow, number) is None:
            session.add(TextOptOutRow(number=number, at=at))


def start(db: Database, number: str) -> None:
    """The number answered START after a STOP: texted again."""
    with db.session() as session:
        row = session.get(TextOptOutRow, number)
        if row is not None:
            session.delete(row)
