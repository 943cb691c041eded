"""The phone simulator behind the demo's page (`/simulator`): callers' calls placed into the
app, the technicians' and managers' phones ringing when the dispatcher calls them, the
program's clock moved forward. One process keeps it all in memory (`make run` serves the
demo with one gunicorn worker); never enabled in production (`IVR_SIMULATOR`)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ivr.adapters.db import Database
from ivr.adapters.orm import JobRow
from ivr.clock import Clock
from ivr.domain import wording
from ivr.domain.local_time import in_paris
from ivr.services.reference import ReferenceCache
from ivr.services.worker import Worker
from ivr.settings import Settings
from ivr.simulator.dialer import Callee
from ivr.simulator.phone import OutboundCall, PhoneCall
from ivr.simulator.rest import FakeTwilioRest
from ivr.simulator.transports import FlaskTransport
from ivr.simulator.twiml_schema import validate

if TYPE_CHECKING:
    from flask import Flask

ACCOUNT = "AC" + "5" * 32  # the demo's Twilio account, as the simulator knows it

# How a technician's or manager's phone behaves when a caller's call is put through to it.
BEHAVIOURS = {
    "take": Callee(keys=["1"]),
    "ring": Callee(answers=False),
    "voicemail": Callee(voicemail=True),
    "busy": Callee(busy=True),
}


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
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.RLock = field(default_factory=threading.RLock)

    # --- Callers ----------------------------------------------------------------------------

    def place(self, caller: str, at: datetime | None) -> int:
        """A caller dials the out-of-hours number (at `at`, the clock jumps there first)."""
        with self._lock:
            if at is not None:
                self.clock.jump_to(at)
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

    def act(self, number: int, action: str, value: str = "") -> None:
        """What the caller does: press keys, say words, stay silent, leave a message, hang up."""
        with self._lock:
            call = self.calls[number]
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
                raise ValueError(f"unknown action {action!r}")

    def _callee(self, number: str) -> Callee:
        return BEHAVIOURS[self.behaviours.get(number, "take")]

    # --- The dispatcher's calls to technicians and managers ----------------------------------

    def ringing(self) -> list[dict[str, str]]:
        """Calls the app placed that nobody picked up or refused yet."""
        with self._lock:
            return [c for c in self.rest.calls if c["Sid"] not in self.outbound]

    def pick_up(self, sid: str, action: str, digits: str = "") -> None:
        """The callee's side of a dispatcher's call: answer (or the voicemail does), let it
        ring, refuse it; once answered, press keys, stay silent, hang up."""
        with self._lock:
            call = self.outbound.get(sid)
            if call is None:
                placed = next(c for c in self.rest.calls if c["Sid"] == sid)
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
                raise ValueError(f"unknown action {action!r}")
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

    def state(self) -> dict[str, Any]:
        """Everything the page shows."""
        with self._lock:
            return {
                "clock": wording.clock(self.clock.now()),
                "calls": [
                    {
                        "id": number,
                        "from": call.from_,
                        "transcript": call.transcript,
                        "waiting_for": call.waiting_for,
                        "keys": call.keys_expected,
                        "ended": call.ended,
                    }
                    for number, call in sorted(self.calls.items(), reverse=True)
                ],
                "ringing": [{"sid": c["Sid"], "to": c["To"]} for c in self.ringing()],
                "outbound": [
                    {
                        "sid": sid,
                        "to": call.to,
                        "transcript": call.transcript,
                        "waiting": call.waiting_for_keys,
                        "ended": call.ended,
                    }
                    for sid, call in reversed(self.outbound.items())
                ],
                "messages": [
                    {"to": m.get("To", ""), "body": m.get("Body", "")}
                    for m in reversed(self.rest.messages)
                ],
                "behaviours": dict(self.behaviours),
                "jobs": self._jobs(),
                "sheets": self._sheets(),
            }

    def _jobs(self) -> list[dict[str, str]]:
        with self.db.snapshot() as session:
            rows = session.scalars(select(JobRow).order_by(JobRow.id.desc()).limit(30)).all()
        return [
            {
                "kind": row.kind,
                "due": in_paris(row.due_at).strftime("%d/%m %H:%M"),
                "status": row.status,
                "outcome": row.outcome or "",
                "to": _job_target(row),
            }
            for row in rows
        ]

    def _sheets(self) -> list[dict[str, str]]:
        folder = Path(self.settings.FAX_FOLDER)
        if not folder.is_dir():
            return []
        found = sorted(folder.glob("*.pdf"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [{"name": path.stem} for path in found[:20]]


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
