"""The phone simulator behind the demo's page (`/simulator`): callers' calls placed into the
app, the technicians' and managers' phones ringing when the dispatcher calls them, the
program's clock moved forward. One process keeps it all in memory (`make run` serves the
demo with one gunicorn worker); never enabled in production (`IVR_SIMULATOR`)."""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ivr.adapters.db import Database
from ivr.adapters.orm import JobRow
from ivr.adapters.repository import find_client, table_in_force
from ivr.clock import Clock
from ivr.domain import wording
from ivr.domain.local_time import in_paris
from ivr.domain.model import Directory
from ivr.domain.phones import e164_or_none
from ivr.services.reference import ReferenceCache
from ivr.services.worker import Worker
from ivr.settings import Settings
from ivr.simulator import words
from ivr.simulator.dialer import Callee
from ivr.simulator.guide import Case, cases
from ivr.simulator.phone import CallStateError, OutboundCall, PhoneCall
from ivr.simulator.rest import FakeTwilioRest
from ivr.simulator.texting import Text, screen, send_text
from ivr.simulator.transports import FlaskTransport
from ivr.simulator.twiml import RING_ACTIONS, Ringing, TwimlError, Whispering
from ivr.simulator.twiml_schema import validate

if TYPE_CHECKING:
    from flask import Flask

ACCOUNT = "AC" + "5" * 32  # the demo's Twilio account, as the simulator knows it

# How a technician's or manager's phone behaves when a caller's call is put through to it:
# scripted, or `live`: it rings on the page, where a person answers it or not.
BEHAVIOURS = {
    "live": Callee(live=True),
    "take": Callee(keys=["1"]),
    "ring": Callee(answers=False),
    "voicemail": Callee(voicemail=True),
    "busy": Callee(busy=True),
}
# Placing a call at a time up to this long before the simulated clock places it now (the
# page's date field holds minutes; the clock runs on).
SAME_MINUTE = timedelta(minutes=1)


class Refused(ValueError):
    """What the page asked for cannot be done now; the message says why, in French."""


@dataclass
class Simulator:
    app: Flask
    settings: Settings
    db: Database
    clock: Clock
    reference: ReferenceCache
    rest: FakeTwilioRest = field(default_factory=FakeTwilioRest)
    calls: dict[int, PhoneCall] = field(default_factory=dict)
    outbound: dict[str, OutboundCall] = field(default_factory=dict)
    behaviours: dict[str, str] = field(default_factory=dict)
    default_behaviour: str = "live"  # of a phone not in `behaviours`
    texts: list[Text] = field(default_factory=list)  # typed on a phone, and the replies
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _book: tuple[Directory, words.Phonebook] | None = None

    def __post_init__(self) -> None:
        self.rest.now = self.clock.now  # the texts the app sends are dated by its clock
        self.rest.inbound = self._inbound_status  # the dispatcher asks how a quiet call stands
        self.rest.recordings = lambda: [r for c in list(self.calls.values()) for r in c.recordings]

    # --- Callers ----------------------------------------------------------------------------

    def place(self, caller: str, at: datetime | None) -> int:
        """A caller dials the out-of-hours number: now, or at `at`, to which the clock jumps
        first. The clock never goes back: a time already past is refused."""
        with self._lock:
            now = self.clock.now()
            if at is not None and at > now:
                self.clock.jump_to(at)
            elif at is not None and at < now - SAME_MINUTE:
                raise Refused(
                    f"L'horloge simulée est déjà au {wording.clock(now)} et ne recule jamais : "
                    "choisissez une date et une heure à venir."
                )
            call = PhoneCall(
                FlaskTransport(self.app),
                self.settings.PUBLIC_BASE_URL,
                self.settings.TWILIO_AUTH_TOKEN or "",
                from_=caller,
                to=self.settings.IVR_CALLER_ID or "+33100000000",
                callees=self._callee,
                account_sid=ACCOUNT,
                validate=validate,
                started_at=self.clock.now(),
            )
            number = next(self._ids)
            self.calls[number] = call
            call.start()
            return number

    def _inbound_status(self, sid: str) -> str | None:
        call = next((c for c in list(self.calls.values()) if c.call_sid == sid), None)
        if call is None:
            return None
        return "completed" if call.ended else "in-progress"

    def act(self, number: int, action: str, value: str = "") -> None:
        """What the caller does: press keys, say words, stay silent, leave a message, hang up.
        What the call cannot take now is `Refused`."""
        with self._lock:
            call = self.calls[number]
            try:
                if action == "press":
                    call.press(value)
                elif action == "say":
                    call.say(value)
                elif action == "silence":
                    call.silence()
                elif action == "message":
                    call.leave_message(int(value or 15))
                elif action == "hangup":
                    call.hang_up()
                else:
                    raise Refused("Action inconnue.")
            except Refused:
                raise
            except (CallStateError, ValueError) as error:
                raise Refused(words.caller_refusal(call, action)) from error
            except TwimlError as error:  # the app refused it: what Twilio would do, said
                status = f" (erreur {error.status})" if error.status else ""
                raise Refused(
                    f"Le serveur vocal a refusé cette réponse{status} : avec Twilio, "
                    "l'appelant entendrait un message d'erreur et l'appel serait coupé. "
                    "L'alerte est sur la page Exploitation."
                ) from error

    def put_through(self, number: int, phone: str, action: str, keys: str = "") -> None:
        """The person at `phone`, which call `number` rings to put the caller through: answer,
        let the voicemail answer, let it ring, busy; then press keys, stay silent, hang up."""
        with self._lock:
            try:
                self.calls[number].pick_up(phone, action, keys)
            except (CallStateError, ValueError) as error:
                raise Refused(words.PICKUP_REFUSED) from error

    def text(self, phone: str, body: str) -> None:
        """The person at `phone` texts the out-of-hours number (STOP, START, anything); the
        replies arrive on that phone."""
        if not body.strip():
            raise Refused("Écrivez le SMS à envoyer.")
        number = e164_or_none(phone)
        if number is None:
            raise Refused("Indiquez le numéro du téléphone qui envoie le SMS.")
        with self._lock:
            try:
                replies = send_text(
                    FlaskTransport(self.app),
                    self.settings.PUBLIC_BASE_URL,
                    self.settings.TWILIO_AUTH_TOKEN or "",
                    ACCOUNT,
                    number,
                    self.settings.IVR_CALLER_ID or "+33100000000",
                    body.strip(),
                )
            except TwimlError as error:
                status = f" (erreur {error.status})" if error.status else ""
                raise Refused(f"Le serveur vocal n'a pas accepté le SMS{status}.") from error
            now = self.clock.now()
            self.texts.append(Text(now, number, body.strip(), mine=True))
            self.texts.extend(Text(now, number, words) for words in replies)

    def texts_of(self, phone: str) -> list[Text]:
        """What `phone`'s screen shows, oldest first."""
        number = e164_or_none(phone)
        with self._lock:
            return screen(number, self.rest.messages, self.texts) if number else []

    def _callee(self, number: str) -> Callee:
        return BEHAVIOURS[self.behaviours.get(number, self.default_behaviour)]

    # --- The dispatcher's calls to technicians and managers ----------------------------------

    def ringing(self) -> list[dict[str, str]]:
        """Calls the app placed that nobody picked up or refused yet."""
        with self._lock:
            return [c for c in self.rest.calls if c["Sid"] not in self.outbound]

    def pick_up(self, sid: str, action: str, digits: str = "") -> None:
        """The callee's side of a dispatcher's call: answer (or the voicemail does), let it
        ring, refuse it; once answered, press keys, stay silent, hang up. What the phone
        cannot do now is `Refused`."""
        with self._lock:
            call = self.outbound.get(sid)
            placed = next((c for c in self.rest.calls if c["Sid"] == sid), None)
            rings = call is None and placed is not None
            if (action in RING_ACTIONS) != rings or (call is not None and call.ended):
                raise Refused(words.PICKUP_REFUSED)
            if call is None:
                assert placed is not None
                call = OutboundCall(
                    FlaskTransport(self.app),
                    self.settings.TWILIO_AUTH_TOKEN or "",
                    placed,
                    sid,
                    ACCOUNT,
                    validate,
                    started_at=self.clock.now(),
                )
                self.outbound[sid] = call
            try:
                if action in ("answer", "voicemail"):
                    call.answer(voicemail=action == "voicemail")
                elif action in ("no-answer", "busy"):
                    self.rest.statuses[sid] = (action, None)
                    call.not_answered("no-answer" if action == "no-answer" else "busy")
                elif action == "press":
                    call.press(digits)
                elif action == "silence":
                    call.silence()
                elif action == "hangup":
                    call.hang_up()
                else:
                    raise Refused("Action inconnue.")
            except CallStateError as error:
                raise Refused(words.PICKUP_REFUSED) from error
            if call.ended:
                self.rest.statuses[sid] = self.rest.statuses.get(sid, ("completed", None))

    def respond(self, sid: str) -> str:
        """A dispatcher's call, answered as its number's behaviour says: taken (answered, 2
        pressed), the voicemail box, rang out, busy. The behaviour used."""
        with self._lock:
            to = next(c["To"] for c in self.rest.calls if c["Sid"] == sid)
            behaviour = self.behaviours.get(to, "take")
            if behaviour == "take":
                self.pick_up(sid, "answer")
                self.pick_up(sid, "press", "2")
            elif behaviour == "voicemail":
                self.pick_up(sid, "voicemail")
            else:
                self.pick_up(sid, "no-answer" if behaviour == "ring" else "busy")
            return behaviour

    # --- The clock, the jobs, the sheets ------------------------------------------------------

    def advance(self, minutes: float) -> None:
        with self._lock:
            self.clock.jump_to(self.clock.now() + timedelta(minutes=minutes))

    def to_next_job(self) -> bool:
        """Jump to when the next scheduled job falls due; False when there is none."""
        with self.db.snapshot() as session:
            due = session.scalar(
                select(JobRow.due_at)
                .where(JobRow.status == "pending", JobRow.due_at > self.clock.now())
                .order_by(JobRow.due_at)
                .limit(1)
            )
        if due is None:
            return False
        self.clock.jump_to(due + timedelta(seconds=1))
        return True

    def state(self, phone: str | None = None) -> dict[str, Any]:
        """Everything the page shows, in French (the raw transcripts too, for scripts); the
        texts on `phone`, the caller's."""
        book = self.phonebook()
        texts = self.texts_of(phone) if phone else []
        with self._lock:
            now = self.clock.now()
            return {
                "clock": wording.clock(now),
                "clock_input": in_paris(now).strftime("%Y-%m-%dT%H:%M"),
                "calls": [
                    _caller_state(number, call, book)
                    for number, call in sorted(self.calls.items(), reverse=True)
                ],
                "ringing": [
                    {"sid": c["Sid"], "to": c["To"], "who": book.short(c["To"])}
                    for c in self.ringing()
                ],
                "transfers_ringing": [
                    {"call": number, "to": phone, "who": book.short(phone)}
                    for number, call in self.calls.items()
                    if isinstance(call.transfer, Ringing)
                    for phone in call.transfer.numbers
                ],
                "transfers": [
                    _transfer_state(number, call, phone, book)
                    for number, call in reversed(self.calls.items())
                    for phone in _answered(call.transcript)
                ],
                "outbound": [
                    {
                        "sid": sid,
                        "to": call.to,
                        "who": book.short(call.to),
                        "transcript": call.transcript,
                        "lines": words.outbound_transcript(call.transcript, book, call.to),
                        "waiting": call.waiting_for_keys,
                        "ended": call.ended,
                    }
                    for sid, call in reversed(self.outbound.items())
                ],
                "messages": [
                    {
                        "to": m.get("To", ""),
                        "who": book.short(m.get("To", "")),
                        "body": m.get("Body", ""),
                    }
                    for m in reversed(self.rest.messages)
                ],
                "texts": [
                    {"at": in_paris(t.at).strftime("%d/%m %H:%M"), "text": t.words, "mine": t.mine}
                    for t in texts
                ],
                "behaviours": dict(self.behaviours),
                "jobs": self._jobs(book),
                "sheets": self._sheets(),
            }

    def phonebook(self) -> words.Phonebook:
        """Whose each number is, from the directory in force."""
        directory = self.reference.directory(self.db)
        if self._book is None or self._book[0] is not directory:
            self._book = (
                directory,
                words.Phonebook.of(
                    directory,
                    national_duty=self.settings.NATIONAL_DUTY_NUMBER,
                    operator=self.settings.OPERATOR_NUMBER,
                    ivr=self.settings.IVR_CALLER_ID,
                ),
            )
        return self._book[1]

    # --- The guide ------------------------------------------------------------------------

    def guide(self) -> list[Case]:
        """The guide's cases, from the simulated clock on."""
        directory = self.reference.directory(self.db)
        with self.db.snapshot() as session:
            table = table_in_force(session)
            return cases(
                lambda client_id: find_client(session, client_id, table),
                directory,
                self.clock.now(),
            )

    def try_case(self, key: str) -> Case:
        """Ready a case of the guide: every phone rings on the page again, but those the case
        sets otherwise; the case, for the form."""
        case = next((c for c in self.guide() if c.key == key), None)
        if case is None:
            raise Refused("Ce cas ne peut pas être essayé avec les données en vigueur.")
        with self._lock:
            self.behaviours.clear()
            self.behaviours.update(case.phones)
        return case

    def _jobs(self, book: words.Phonebook) -> list[dict[str, str]]:
        with self.db.snapshot() as session:
            rows = session.scalars(select(JobRow).order_by(JobRow.id.desc()).limit(30)).all()
        return [
            {
                "kind": row.kind,
                "due": in_paris(row.due_at).strftime("%d/%m %H:%M"),
                "status": row.status,
                "outcome": row.outcome or "",
                "to": _job_target(row),
                "what": words.job_what(row.kind, row.payload),
                "state": words.job_state(row.status, row.outcome or ""),
                "for": book.short(_job_target(row)) if _job_target(row) else "",
            }
            for row in rows
        ]

    def _sheets(self) -> list[dict[str, str]]:
        folder = Path(self.settings.FAX_FOLDER)
        if not folder.is_dir():
            return []
        found = sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [{"name": p.stem, "title": words.sheet_title(p.stem)} for p in found[:20]]


def _caller_state(number: int, call: PhoneCall, book: words.Phonebook) -> dict[str, Any]:
    waiting = call.waiting_for
    return {
        "id": number,
        "from": call.from_,
        "transcript": call.transcript,
        "lines": words.caller_transcript(call.transcript, book),
        "status": words.caller_status(call, book),
        "waiting_for": waiting,
        "keys": call.keys_expected,
        "ended": call.ended,
        "can": {
            "press": waiting == "gather" and "dtmf" in call.inputs,
            "say": waiting == "gather" and "speech" in call.inputs,
            "silence": waiting in ("gather", "record"),
            "message": waiting == "record",
            "hangup": not call.ended,
        },
    }


def _answered(transcript: list[str]) -> list[str]:
    """The numbers that answered while the call was being put through, in order."""
    answered = (re.fullmatch(r"(\S+): answers(?: \(voicemail\))?", line) for line in transcript)
    return list(dict.fromkeys(m[1] for m in answered if m))


def _transfer_state(
    number: int, call: PhoneCall, phone: str, book: words.Phonebook
) -> dict[str, Any]:
    """The phone of someone the caller was put through to (or offered), as it shows it."""
    transfer = call.transfer
    live = isinstance(transfer, Whispering) and transfer.number == phone
    return {
        "call": number,
        "to": phone,
        "who": book.short(phone),
        "lines": words.callee_transcript(call.transcript, book, phone, call.from_),
        "waiting": live,
        "ended": not live,
    }


def _job_target(row: JobRow) -> str:
    numbers = row.payload.get("numbers")
    if numbers:
        return str(numbers[row.payload.get("index", 0)])
    return str(row.payload.get("to", ""))


@dataclass
class DemoStack:
    """The demo served on loopback, with the dispatcher's worker on its clock."""

    app: Flask
    worker: Worker
    base_url: str

    @property
    def simulator(self) -> Simulator:
        simulator: Simulator = self.app.extensions["ivr.simulator"]
        return simulator
