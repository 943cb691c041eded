"""The messages callers leave (Twilio's `<Record>`): each kept once, from Twilio's recording
callback, or, when that callback was lost, found by asking Twilio.

A callback is lost when the database is out of reach as it comes: the app answers 500 and
Twilio does not post it again. That is exactly when a caller is on the safe path, leaving the
message nobody else will hear (their name, contract and number). So each worker asks Twilio,
every `EVERY`, for the recordings it made lately; one this database does not know is kept as a
safe-path message: the operators are alerted, and it is on the operations page."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import CallRow, RecordingRow
from ivr.adapters.twilio_rest import FoundRecording, TwilioRest
from ivr.services.trace import add_event, record_alert

log = logging.getLogger(__name__)

EMERGENCY = "emergency"  # a message nobody was told of: the operators' to hear
EVERY = timedelta(minutes=5)  # how often a worker asks Twilio
# A recording younger than this may still have its callback on the way (a message lasts up
# to two minutes, and Twilio posts the callback once the audio is stored): not yet lost.
SETTLED = timedelta(minutes=10)
FIRST_LOOK = timedelta(days=1)  # how far back a worker just started looks


def keep(
    session: Session,
    now: datetime,
    sid: str,
    call_sid: str | None,
    kind: str,
    made: tuple[str, int, str],
    found: bool = False,
) -> bool:
    """A recording (`made`: its URL, seconds, status) kept once, on its call's trace if the
    call is known; a safe-path message raises an alert, since nobody has it yet. `found`: at
    Twilio, its callback lost. False if it was kept already."""
    if session.scalar(select(RecordingRow.id).where(RecordingRow.sid == sid)) is not None:
        return False
    url, seconds, status = made
    call = session.scalar(select(CallRow).where(CallRow.sid == call_sid)) if call_sid else None
    row = RecordingRow(
        call_id=call.id if call else None,
        sid=sid,
        url=url,
        duration=seconds,
        kind=kind,
        status=status,
        received_at=now,
    )
    session.add(row)
    if call is not None:
        kept = {"sid": sid, "kind": kind, "seconds": seconds, **({"found": True} if found else {})}
        add_event(session, now, call.id, "recording", kept, step=call.step, turn=call.turn)
    if kind == EMERGENCY and seconds and status == "completed":
        heard = f"{seconds} s, recording {sid}: listen on the operations page"
        if found:
            message = f"a message whose callback never came, found at Twilio, {heard}"
        else:
            message = f"a message on the safe path, {heard}"
        record_alert(session, now, "emergency_message", message, call_sid)
    return True


@dataclass
class LostRecordings:
    db: Database
    rest: TwilioRest | None  # none configured: nothing to ask
    looked_until: datetime | None = None  # this worker's last answered pass: where it stood
    asked_at: datetime | None = None  # its last pass, answered or not

    def housekeep(self, now: datetime) -> None:
        """Every `EVERY`, the messages Twilio made whose callback never came, kept (several
        workers may find the same one: it is kept once). Twilio or the database away: the
        next pass, `EVERY` later too (a Twilio that hangs holds the jobs up once in a while,
        not before each), looks again from where the last answered one stood."""
        if self.rest is None or (self.asked_at is not None and now < self.asked_at + EVERY):
            return
        self.asked_at = now
        since = (self.looked_until or now - FIRST_LOOK) - SETTLED
        try:
            found = self.rest.recordings_since(since)
            lost = [r for r in found if r.settled(now - SETTLED)]
            kept = sum(self._kept(r, now) for r in lost)
        except Exception as error:  # never in the way of the jobs; the next pass looks again
            log.warning("could not look for lost recordings: %s", type(error).__name__)
            return
        if kept:
            log.warning("%d recording(s) whose callback never came, found at Twilio", kept)
        self.looked_until = now

    def _kept(self, recording: FoundRecording, now: datetime) -> bool:
        made = (recording.url, recording.seconds, recording.status)
        try:
            with self.db.session() as session:
                return keep(
                    session, now, recording.sid, recording.call_sid, EMERGENCY, made, found=True
                )
        except IntegrityError:  # another worker kept it meanwhile
            return False
