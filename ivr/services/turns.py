"""One turn of a phone conversation: each Twilio webhook of a call the app answers moves one
conversation on by one turn of its flow (`voice_flows`).

A turn reads its conversation in a snapshot and lets the flow decide, holding no lock; then it
writes everything the turn causes in one short transaction, guarded by the conversation's turn
number: the new state and the TwiML answered, one event per key, prompt and decision, a dial
attempt, and what the people on the line did (a request taken in hand, an outcome reported, a
coverage problem declared). A request Twilio sends again for a turn already answered gets the
same answer and changes nothing. A turn that fails writes nothing: the person on the line gets
the safe answer of its kind (the web layer's), and the same request sent again (Twilio sends
again a request that got no answer) plays the turn afresh.

Each kind of conversation (`Conversations`) says where its conversations are kept, which flows
they run, what the flows may ask of the world, and what their notes do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.twiml import Links, Renderer
from ivr.clock import Clock
from ivr.domain.prompts import Prompts
from ivr.services.reference import ReferenceCache
from ivr.services.trace import add_events
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
    rows: Table  # where its conversations are kept: id, turn, state, step, last_response...
    saved: tuple[str, ...] = ("turn", "last_response", "state", "step")  # what a turn writes

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, reference: ReferenceCache
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.reference = reference
        # Built once: SQLAlchemy compiles each statement once, and a turn only binds values.
        rows = self.rows
        self._create = insert(rows).returning(rows.c.id)
        written: dict[str, Any] = {name: bindparam(f"set_{name}") for name in self.saved}
        self._save = (
            update(rows)
            .where(rows.c.id == bindparam("row"), rows.c.turn == bindparam("expected"))
            .values({**written, **self.kept_unless_given()})
        )

    def answer(self, hook: Webhook) -> str:
        """The TwiML that answers `hook`: the conversation's next turn, or its first."""
        with self.db.snapshot() as session:
            talk = self.find(session, hook)
        if talk is None:
            return self._first_turn(hook)
        if hook.number("turn") != talk.turn:
            return talk.last_response  # Twilio asked again for a turn already answered
        played = self._play(talk, hook)
        ready = self._prepare(talk, played)
        try:
            with self.db.session() as session:
                return self._write(session, talk, played, hook, ready)
        except _AnsweredMeanwhile:
            return self._answered_meanwhile(hook)

    def _first_turn(self, hook: Webhook) -> str:
        opening = self.open(hook)
        if opening is None:
            return self.nothing_to_answer()
        flow = self.flow(opening.flow)
        state, reply = flow.start(opening.state, self.facts(opening.flow, opening.row))
        played = Played(opening.flow, state, reply, None)
        # Its row is created with its first turn; what the answer says does not depend on it.
        unborn = Conversation(0, 0, hook.call_sid, opening.flow, 0, {}, "", opening.row)
        ready = self._prepare(unborn, played)
        try:
            with self.db.session() as session:
                talk = self.create(session, hook, opening)
                return self._write(session, talk, played, hook, ready)
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
        first_state = self.handed_over(state, reply.handoff)
        says = tuple(i for i in reply.instructions if isinstance(i, Say))
        state, first = after.start(first_state, self.facts(reply.handoff, talk.row), says)
        merged = Reply(first.instructions, (*reply.notes, *first.notes))
        return Played(reply.handoff, state, merged, event)

    def _prepare(self, talk: Conversation, played: Played) -> _Ready:
        """What the turn will write, made before its transaction: the database's write lock
        (SQLite has one) is then held for the writes alone."""
        dials = any(isinstance(i, Connect) for i in played.reply.instructions)
        twiml = None if dials else self._render(talk, played, None)
        values = {"state": played.state.to_dict(), "step": played.state.step}
        return _Ready(twiml, self._trace(talk, played), {**values, **self.columns(played)})

    def _write(
        self, session: Session, talk: Conversation, played: Played, hook: Webhook, ready: _Ready
    ) -> str:
        """Everything the turn causes, and its answer, in the caller's transaction; nothing if
        another request wrote this turn first (`_AnsweredMeanwhile` rolls it all back)."""
        now = self.clock.now()
        attempt = self.apply(session, talk, played, hook, now)
        # A turn that puts someone through names the dial attempt it opened in its URLs.
        twiml = ready.twiml or self._render(talk, played, attempt)
        if not self.save(session, talk, {**ready.values, "last_response": twiml}):
            raise _AnsweredMeanwhile
        add_events(session, now, talk.call_id, ready.events, turn=talk.turn + 1)
        return twiml

    def _render(self, talk: Conversation, played: Played, attempt: int | None) -> str:
        links = self.links(talk, attempt)
        bridges = self.records_bridges(played.state)
        return self.renderer().render(played.reply.instructions, links, record_bridges=bridges)

    def _trace(self, talk: Conversation, played: Played) -> list[_Event]:
        """What came in (under the step that asked), then the notes, each prompt with the
        exact words said and each dial (under the step the turn leaves the conversation at)."""
        asked, now = (
            self.trace_step(talk.flow, talk.state),
            self.trace_step(played.flow, played.state.to_dict()),
        )
        out: list[_Event] = []
        if played.event is not None:
            out.append((*_input(played.event), asked))
        out.extend((note.kind, note.detail, now) for note in played.reply.notes)
        prompts = self.prompts()
        for instruction in played.reply.instructions:
            for say in _says(instruction):
                text = prompts.text(say.prompt, say.values)
                out.append(("prompt", {"prompt": say.prompt, "text": text}, now))
            if isinstance(instruction, Connect):
                dialed = {"number": instruction.number, "role": instruction.role}
                out.append(("dial", dialed, now))
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
    def opened(self, hook: Webhook, opening: Opening) -> dict[str, Any]:
        """What else the new conversation's row holds."""

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

    def create(self, session: Session, hook: Webhook, opening: Opening) -> Conversation:
        """The new conversation's row (its first turn is then written with it)."""
        row = {
            "sid": hook.call_sid,
            "flow": opening.flow,
            "started_at": self.clock.now(),
            "step": opening.state.step,
            "state": opening.state.to_dict(),
            "turn": 0,
            "last_response": "",
            **self.opened(hook, opening),
        }
        new = int(session.execute(self._create, row).scalar_one())
        trace = row.get("call_id", new)  # a callee's leg traces into its request
        return Conversation(
            new, trace, hook.call_sid, opening.flow, 0, row["state"], "", opening.row
        )

    def save(self, session: Session, talk: Conversation, values: Mapping[str, Any]) -> bool:
        """The state the turn left, its answer, what else it writes (`saved`), if nobody wrote
        this turn meanwhile (False then)."""
        bound = {f"set_{name}": value for name, value in values.items()}
        guard = {"row": talk.id, "expected": talk.turn, "set_turn": talk.turn + 1}
        moved = session.execute(self._save, {**guard, **bound})
        return bool(moved.rowcount == 1)  # type: ignore[attr-defined]

    def columns(self, played: Played) -> dict[str, Any]:
        """What else a turn writes on its conversation's row (the names in `saved`)."""
        return {}

    def kept_unless_given(self) -> dict[str, Any]:
        """Columns a turn writes only when it has a value for them (else they are kept)."""
        return {}

    def handed_over(self, state: State, flow: str) -> State:
        """The first state of `flow`, when this conversation goes on in it (`state`: the
        handing flow's, after its turn)."""
        raise RuntimeError(f"{type(self).__name__} hands no conversation over to {flow}")

    def records_bridges(self, state: State) -> bool:
        return False

    def trace_step(self, flow: str, state: Mapping[str, Any]) -> str:
        """Where an event of the trace happened: the conversation's step."""
        return str(state.get("step", ""))


_Event = tuple[str, Mapping[str, Any], str]  # kind, detail, step


@dataclass(frozen=True)
class _Ready:
    """A turn's writes, made ready before its transaction."""

    twiml: str | None  # None: a dial's, rendered once its attempt is opened
    events: list[_Event]
    values: dict[str, Any]  # the conversation's row, but its turn and answer


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


def caller_gone(hook: Webhook) -> bool:
    """A dial's outcome posted after the caller hung up (Twilio posts it all the same)."""
    return hook.get("CallStatus") == "completed"


def event_of(hook: Webhook, *, dialed: bool | None = None, recorded: bool = False) -> Event:
    """What a request tells of the person on the line: a dial's outcome (`dialed`: whether a
    person took it), a recorded message, or their answer."""
    if dialed is not None:
        return Event("dialed", accepted=dialed, caller_gone=caller_gone(hook))
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
