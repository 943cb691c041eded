"""The callee's side of the calls the app makes: the announcement a technician or a manager
hears before a caller is put through to them (`/twilio/voice/whisper`), and the dispatcher's
call to them (`/twilio/outbound/...`). Each answered leg is a conversation of its own
(`legs`), whose trace goes to the request it is about."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ivr.adapters.orm import CallRow, DialAttemptRow, JobRow, LegRow, table_of
from ivr.adapters.prompt_store import default_prompts
from ivr.adapters.twiml import Links, Renderer
from ivr.domain.outcomes import Report, RequestOutcome
from ivr.domain.summary import RequestSummary
from ivr.services import staff
from ivr.services.jobs import JobQueue
from ivr.services.records import record_of
from ivr.services.turns import Conversation, Conversations, Opening, Played, Webhook, event_of
from voice_flows import dispatch_call, whisper
from voice_flows.dispatch_call import DispatchCallState
from voice_flows.engine import Event
from voice_flows.instructions import Say
from voice_flows.whisper import WhisperState


class Legs(Conversations):
    """Conversations kept in `legs`, one per answered leg (its CallSid)."""

    rows = table_of(LegRow)
    path: str  # where the answers of its turns go, `{step}` in it
    key: str  # the query parameter naming what the leg is for (a dial attempt, a job)

    def find(self, session: Session, hook: Webhook) -> Conversation | None:
        leg = session.scalar(select(LegRow).where(LegRow.sid == hook.call_sid))
        if leg is None:
            return None
        row = self.read(session, leg.attempt_id or leg.job_id)
        return Conversation(
            leg.id, leg.call_id, leg.sid, leg.flow, leg.turn, leg.state, leg.last_response, row
        )

    def open(self, hook: Webhook) -> Opening | None:
        number = hook.number(self.key)
        with self.db.snapshot() as session:
            row = self.read(session, number) if number is not None else None
        return self.opening(row, hook) if row is not None else None

    def opened(self, hook: Webhook, opening: Opening) -> dict[str, Any]:
        return {"call_id": opening.row.call_id, f"{self.key}_id": opening.row.id}

    def event(self, talk: Conversation, hook: Webhook) -> Event:
        dialed = hook.get("DialCallStatus") or None
        return event_of(hook, dialed=None if dialed is None else dialed == "completed")

    def links(self, talk: Conversation, attempt: int | None) -> Links:
        query = {self.key: talk.row.id, "turn": talk.turn + 1}
        return Links(self.settings.PUBLIC_BASE_URL, self.path, query, talk.sid, attempt)

    def trace_step(self, flow: str, state: Mapping[str, Any]) -> str:
        return flow  # on the request's trace: whose leg it was

    def nothing_to_answer(self) -> str:
        """The callee's leg when there is nothing to tell them: they are not connected."""
        settings = self.settings
        renderer = Renderer(default_prompts(), settings.PUBLIC_BASE_URL, settings.IVR_VOICE)
        return renderer.say_and_hang_up((Say("whisper_declined"),))

    def summary(self, call_id: int) -> RequestSummary:
        with self.db.snapshot() as session:
            record = record_of(session, session.get_one(CallRow, call_id))
        client_id = record.call.client_id
        client = self.reference.client(self.db, client_id) if client_id else None
        return record.summary(client)

    @abstractmethod
    def read(self, session: Session, number: int | None) -> Any:
        """The row the leg is for (a dial attempt, a job), if it exists."""

    @abstractmethod
    def opening(self, row: Any, hook: Webhook) -> Opening: ...


@dataclass(frozen=True)
class Announced:
    """`voice_flows.whisper.WhisperFacts`."""

    role: str
    number: str
    summary: RequestSummary


class Announcements(Legs):
    """The announcement before a caller is put through (call screening)."""

    flows = (whisper.flow,)
    path = "/twilio/voice/whisper/step/{step}"
    key = "attempt"

    def read(self, session: Session, number: int | None) -> DialAttemptRow | None:
        return session.get(DialAttemptRow, number) if number is not None else None

    def opening(self, row: Any, hook: Webhook) -> Opening:
        return Opening(whisper.flow.name, WhisperState(), row)

    def facts(self, flow: str, row: Any) -> Announced:
        return Announced(row.role, row.number, self.summary(row.call_id))

    def apply(
        self, session: Session, talk: Conversation, played: Played, hook: Webhook, now: datetime
    ) -> int | None:
        for note in played.reply.notes:
            if note.kind == "call_taken":
                self._attempt(session, talk, accepted=True, leg_sid=hook.call_sid)
            elif note.kind == "call_declined":  # kept when the dial's outcome comes
                # Silence: a voicemail box, or a person who pressed nothing; the whisper cannot
                # tell them apart, and the sheet does not guess.
                silent = note.detail.get("why") == "silence"
                self._attempt(session, talk, outcome="silent" if silent else "declined")
        return None

    @staticmethod
    def _attempt(session: Session, talk: Conversation, **values: Any) -> None:
        attempts = table_of(DialAttemptRow)
        session.execute(update(attempts).where(attempts.c.id == talk.row.id).values(**values))


@dataclass(frozen=True)
class Dispatched:
    """`voice_flows.dispatch_call.DispatchCallFacts`."""

    role: str
    summary: RequestSummary
    unreachable: Mapping[str, str] | None
    client_sees: str | None


class DispatcherCalls(Legs):
    """The dispatcher's calls to technicians and managers, once answered."""

    flows = (dispatch_call.flow,)
    path = "/twilio/outbound/step/{step}"
    key = "job"

    def read(self, session: Session, number: int | None) -> JobRow | None:
        job = session.get(JobRow, number) if number is not None else None
        return job if job is not None and job.call_id is not None else None

    def opening(self, row: Any, hook: Webhook) -> Opening:
        state = DispatchCallState(answered_by=hook.get("AnsweredBy") or "human")
        return Opening(dispatch_call.flow.name, state, row)

    def facts(self, flow: str, row: Any) -> Dispatched:
        unreachable = row.payload.get("unreachable")
        with self.db.snapshot() as session:
            shown = session.scalar(select(CallRow.to_number).where(CallRow.id == row.call_id))
        return Dispatched(
            row.payload["role"],
            self.summary(row.call_id),
            {k: str(v) for k, v in unreachable.items()} if unreachable else None,
            # The client sees the out-of-hours number they called, not the staff's mobile.
            shown or self.settings.IVR_CALLER_ID,
        )

    def apply(
        self, session: Session, talk: Conversation, played: Played, hook: Webhook, now: datetime
    ) -> int | None:
        for note in played.reply.notes:
            if note.kind == "taken":
                self._taken(session, talk.row.id, note.detail["how"])
        return None

    def _taken(self, session: Session, job_id: int, how: str) -> None:
        """The person called took the request: put through to the client, taken in hand, or
        an outcome reported. Reached (the job's outcome says so when the call ends); on the
        request's trace, cancelling what else was to reach someone for it."""
        job = session.get_one(JobRow, job_id, with_for_update=True)
        job.payload = {**job.payload, "taken": how, "taken_at": self.clock.now().isoformat()}
        number = job.payload["numbers"][job.payload["index"]]
        outcome = RequestOutcome.ACKNOWLEDGED if how == "put_through" else RequestOutcome(how)
        assert job.call_id is not None
        queue = JobQueue(self.db, self.clock)
        staff.record_outcome(session, queue, job.call_id, Report(outcome, number), job.id)
