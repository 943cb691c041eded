"""One turn of a phone conversation: each Twilio webhook of a call the app answers moves one
conversation on by one turn of its flow (`voice_flows`).

A turn reads its conversation in a snapshot and lets the flow decide, holding no lock; then it
writes everything the turn causes in one short transaction, guarded by the conversation's turn
number: the new state and the TwiML answered, one event per key, prompt and decision, a dial
attempt, and what the people on the line did (a request taken in hand, an outcome reported, a
coverage problem declared). A request Twilio sends again for a turn already answered gets the
same answer and changes nothing; a turn that fails writes nothing, and is played again when
Twilio asks again.

Each kind of conversation (`Conversations`) says where its conversations are kept, which flows
they run, what the flows may ask of the world, and what their notes do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.twiml import Links, Renderer
from ivr.clock import Clock
from ivr.domain.prompts import Prompts
from ivr.services.reference import ReferenceCache
from ivr.services.trace import add_event
from ivr.settings import Settings
from voice_flows.engine import Event, Flow, Reply, State
from voice_flows.instructions import Connect, Say


@dataclass(frozen=True)
class Webhook:
    """What a Twilio request tells us: its form, and the query of the URL it was posted to
    (which the app gave Twilio, and Twilio signed)."""

    call_sid: str
    form: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.form.get(name, default)

    def number(self, name: str) -> int | None:
        """An integer of the URL's query (`turn`, `attempt`, `job`), if it is one."""
        try:
            return int(self.query[name])
        except (KeyError, ValueError):
            return None


@dataclass
class Conversation:
    """A conversation as a turn reads it."""

    id: int  # its row
    call_id: int  # the request (or the staff's call) its trace goes to
    sid: str
    flow: str
    turn: int  # turns answered so far
    state: dict[str, Any]
    last_response: str
    row: Any = None  # what its kind read with it (a dial attempt, a job)


@dataclass(frozen=True)
class Opening:
    """A conversation about to begin: the flow it runs and its first state."""

    flow: str
    state: State
    row: Any = None


@dataclass(frozen=True)
class Played:
    """A turn decided: the state it leaves, what it answers and notes, what came in."""

    flow: str
    state: State
    reply: Reply
    event: Event | None  # None: the conversation's first turn


class Conversations(ABC):
    """The turns of one kind of conversation."""

    flows: tuple[Flow[Any, Any], ...]  # the flows its conversations run
    rows: Any  # the table its conversations are kept in (id, turn, state, step, last_response)

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, reference: ReferenceCache
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.reference = reference

    def answer(self, hook: Webhook) -> str:
        """The TwiML that answers `hook`: the conversation's next turn, or its first."""
        with self.db.snapshot() as session:
            talk = self.find(session, hook)
        if talk is None:
            return self._first_turn(hook)
        if hook.number("turn") != talk.turn:
            return talk.last_response  # Twilio asked again for a turn already answered
        played = self._play(talk, hook)
        try:
            with self.db.session() as session:
                if not self.claim(session, talk):
                    raise _AnsweredMeanwhile
                return self._write(session, talk, played, hook)
        except _AnsweredMeanwhile:
            return self._answered_meanwhile(hook)

    def _first_turn(self, hook: Webhook) -> str:
        opening = self.open(hook)
        if opening is None:
            return self.nothing_to_answer()
        flow = self.flow(opening.flow)
        state, reply = flow.start(opening.state, self.facts(opening.flow, opening.row))
        try:
            with self.db.session() as session:
                talk = self.create(session, hook, opening)
                return self._write(session, talk, Played(opening.flow, state, reply, None), hook)
        except IntegrityError:
            with self.db.snapshot() as session:
                winner = self.find(session, hook)
            if winner is None:
                raise  # no conversation begun meanwhile by Twilio asking again: a failure
            return winner.last_response

    def flow(self, name: str) -> Flow[Any, Any]:
        return next(flow for flow in self.flows if flow.name == name)

    def _play(self, talk: Conversation, hook: Webhook) -> Played:
        """The flow's decision for this turn (no lock held)."""
        flow = self.flow(talk.flow)
        event = self.event(talk, hook)
        facts = self.facts(talk.flow, talk.row)
        state, reply = flow.next_step(flow.state.from_dict(talk.state), event, facts)
        if reply.handoff is None:
            return Played(talk.flow, state, reply, event)
        after = self.flow(reply.handoff)
        first_state = self.handed_over(talk, reply.handoff)
        state, first = after.start(first_state, self.facts(reply.handoff, talk.row))
        merged = Reply(first.instructions, (*reply.notes, *first.notes))
        return Played(reply.handoff, state, merged, event)

    def _write(self, session: Session, talk: Conversation, played: Played, hook: Webhook) -> str:
        """Everything the turn causes, and its answer, in the caller's transaction."""
        now = self.clock.now()
        attempt = self.apply(session, talk, played, hook, now)
        twiml = self.renderer().render(
            played.reply.instructions,
            self.links(talk, attempt),
            record_bridges=self.records_bridges(played.state),
        )
        for kind, detail in self._trace(played):
            add_event(
                session,
                now,
                talk.call_id,
                kind,
                detail,
                step=self.trace_step(played),
                turn=talk.turn + 1,
            )
        self.save(session, talk, played, twiml)
        return twiml

    def _trace(self, played: Played) -> list[tuple[str, Mapping[str, Any]]]:
        """What came in, the notes, each prompt with the exact words said, each dial."""
        out: list[tuple[str, Mapping[str, Any]]] = []
        if played.event is not None:
            out.append(_input(played.event))
        out.extend((note.kind, note.detail) for note in played.reply.notes)
        prompts = self.prompts()
        for instruction in played.reply.instructions:
            for say in _says(instruction):
                text = prompts.text(say.prompt, say.values)
                out.append(("prompt", {"prompt": say.prompt, "text": text}))
            if isinstance(instruction, Connect):
                out.append(("dial", {"number": instruction.number, "role": instruction.role}))
        return out

    def _answered_meanwhile(self, hook: Webhook) -> str:
        """Another request for the same turn was written first: what it answered."""
        with self.db.snapshot() as session:
            winner = self.find(session, hook)
        return winner.last_response if winner is not None else self.nothing_to_answer()

    def prompts(self) -> Prompts:
        return self.reference.prompts(self.db)

    def renderer(self) -> Renderer:
        settings = self.settings
        return Renderer(
            self.prompts(),
            settings.PUBLIC_BASE_URL,
            settings.IVR_VOICE,
            settings.IVR_SPEECH,
            settings.IVR_CALLER_ID,
            settings.GAS_EMERGENCY_NUMBER,
        )

    # --- What each kind of conversation says -------------------------------------------------

    @abstractmethod
    def find(self, session: Session, hook: Webhook) -> Conversation | None:
        """The conversation this request belongs to, if it has begun."""

    @abstractmethod
    def open(self, hook: Webhook) -> Opening | None:
        """How a conversation begins; None when there is nothing to begin."""

    @abstractmethod
    def create(self, session: Session, hook: Webhook, opening: Opening) -> Conversation:
        """The new conversation's row (its first turn is then written with it)."""

    @abstractmethod
    def facts(self, flow: str, row: Any) -> Any:
        """What flow `flow` may ask of the world (`row`: what was read with the
        conversation)."""

    @abstractmethod
    def event(self, talk: Conversation, hook: Webhook) -> Event:
        """What happened since the last turn."""

    @abstractmethod
    def apply(
        self, session: Session, talk: Conversation, played: Played, hook: Webhook, now: datetime
    ) -> int | None:
        """What the turn does besides answering; the dial attempt it opened, if any."""

    @abstractmethod
    def links(self, talk: Conversation, attempt: int | None) -> Links:
        """Where the answers to this turn's questions go."""

    @abstractmethod
    def nothing_to_answer(self) -> str:
        """What to answer a request for a conversation that cannot be found or begun."""

    def claim(self, session: Session, talk: Conversation) -> bool:
        """Move the conversation on to its next turn, if nobody did meanwhile."""
        rows = self.rows
        moved = session.execute(
            update(rows)
            .where(rows.id == talk.id, rows.turn == talk.turn)
            .values(turn=talk.turn + 1)
        )
        return bool(moved.rowcount == 1)  # type: ignore[attr-defined]

    def save(self, session: Session, talk: Conversation, played: Played, twiml: str) -> None:
        """The state the turn left, and its answer."""
        values = {
            "turn": talk.turn + 1,
            "last_response": twiml,
            "state": played.state.to_dict(),
            "step": played.state.step,
        }
        values.update(self.columns(played))
        session.execute(update(self.rows).where(self.rows.id == talk.id).values(**values))

    def columns(self, played: Played) -> dict[str, Any]:
        """What else a turn writes on its conversation's row."""
        return {}

    def handed_over(self, talk: Conversation, flow: str) -> State:
        """The first state of `flow`, when this conversation goes on in it."""
        raise RuntimeError(f"{type(self).__name__} hands no conversation over to {flow}")

    def records_bridges(self, state: State) -> bool:
        return False

    def trace_step(self, played: Played) -> str:
        return played.state.step


class _AnsweredMeanwhile(Exception):
    """Another request for the same turn was written first."""


def _input(event: Event) -> tuple[str, Mapping[str, Any]]:
    """The trace of what came in: keys and words, a dial's or a recording's outcome."""
    if event.kind == "input":
        detail: dict[str, Any] = {"digits": event.digits}
        if event.speech:
            detail.update(speech=event.speech, confidence=event.confidence)
        return "input", detail
    return event.kind, {"accepted": event.accepted, "seconds": event.seconds}


def _says(instruction: object) -> tuple[Say, ...]:
    if isinstance(instruction, Say):
        return (instruction,)
    return tuple(getattr(instruction, "says", ()))


def event_of(hook: Webhook, *, dialed: bool | None = None, recorded: bool = False) -> Event:
    """What a request tells of the person on the line: a dial's outcome (`dialed`: whether a
    person took it), a recorded message, or their answer."""
    if dialed is not None:
        return Event("dialed", accepted=dialed)
    if recorded:
        return Event("recorded", seconds=integer(hook.get("RecordingDuration")))
    confidence = hook.get("Confidence")
    return Event(
        "input",
        digits=hook.get("Digits"),
        speech=hook.get("SpeechResult"),
        confidence=float(confidence) if confidence else None,
    )


def integer(text: str, default: int = 0) -> int:
    """A number Twilio posts, or `default` when it posts none."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return default
