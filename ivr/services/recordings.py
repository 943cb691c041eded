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
from ivr.services.trace import add_event, alert_on_failure, record_alert

log = logging.getLogger(__name__)

EMERGENCY = "emergency"  # a message nobody was told of: the operators' to hear
MESSAGE = "message"  # a caller's message their call's flow took: on their request
EVERY = timedelta(minutes=5)  # how often a worker asks Twilio
# A recording younger than this may still have its callback on the way (a message lasts up
# to two minutes, and Twilio posts the callback once the audio is stored): not yet lost.
SETTLED = timedelta(minutes=10)
FIRST_LOOK = timedelta(days=1)  # how far back a worker just started looks
# Not looked for that long (Twilio refusing or away): the operators are told, once.
UNCHECKED = timedelta(minutes=30)


def keep(
    session: Session,
    now: datetime,
    sid: str,
    call_sid: str | None,
    kind: str | None,
    made: tuple[str, int, str],
) -> bool:
    """A recording (`made`: its URL, seconds, status) kept once, on its call's trace if the
    call is known; a safe-path message raises an alert, since nobody has it yet. `kind`
    None: found at Twilio, its callback lost; the call's message if its flow took one, else
    a safe-path message, and an alert either way. False if it was kept already."""
    if _known(session, sid):
        return False
    url, seconds, status = made
    call = session.scalar(select(CallRow).where(CallRow.sid == call_sid)) if call_sid else None
    found = kind is None
    if kind is None:
        kind = MESSAGE if call is not None and call.message_seconds else EMERGENCY
    row = RecordingRow(
        call_id=call.id if call else None,
        sid=sid,
        url=url,
        duration=seconds,
        kind=kind,
        status=status,
        received_at=now,
    )
    try:
        with session.begin_nested():  # stored first: two workers that found it alert once
            session.add(row)
    except IntegrityError:  # kept meanwhile (another worker, or its callback at last)?
        if not _known(session, sid):
            raise  # not that: a fault to be seen
        return False
    if call is not None:
        kept = {"sid": sid, "kind": kind, "seconds": seconds, **({"found": True} if found else {})}
        add_event(session, now, call.id, "recording", kept, step=call.step, turn=call.turn)
    if seconds and status == "completed" and (found or kind == EMERGENCY):
        _alert(session, now, kind, f"{seconds} s, recording {sid}", found, call_sid)
    return True


def _known(session: Session, sid: str) -> bool:
    return session.scalar(select(RecordingRow.id).where(RecordingRow.sid == sid)) is not None


def _alert(
    session: Session, now: datetime, kind: str, heard: str, found: bool, call_sid: str | None
) -> None:
    if kind == MESSAGE:  # its agency and technician have it on the request
        message = f"a caller's message whose callback never came, found at Twilio, {heard}"
        record_alert(session, now, "message_found", f"{message}: on its request", call_sid)
        return
    where = "found at Twilio, its callback lost" if found else "on the safe path"
    message = f"a message {where}, {heard}: listen on the operations page"
    record_alert(session, now, "emergency_message", message, call_sid)


@dataclass
class LostRecordings:
    db: Database
    rest: TwilioRest | None  # none configured: nothing to ask
    looked_until: datetime | None = None  # this worker's last answered pass: where it stood
    asked_at: datetime | None = None  # its last pass, answered or not
    failing_since: datetime | None = None  # its first pass not answered since the last one
    told: bool = False  # the operators told that nobody looks (once a failing streak)

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
            self._failed(now, type(error).__name__)
            return
        if kept:
            log.warning("%d recording(s) whose callback never came, found at Twilio", kept)
        self.looked_until, self.failing_since, self.told = now, None, False

    def _failed(self, now: datetime, why: str) -> None:
        log.warning("could not look for lost recordings: %s", why)
        self.failing_since = self.failing_since or now
        if not self.told and now - self.failing_since >= UNCHECKED:
            message = f"Twilio's recordings not listed for 30 min ({why}): lost messages unseen"
            alert_on_failure(self.db, now, "recordings_unchecked", message)
            self.told = True

    def _kept(self, recording: FoundRecording, now: datetime) -> bool:
        made = (recording.url, recording.seconds, recording.status)
        with self.db.session() as session:
            return keep(session, now, recording.sid, recording.call_sid, None, made)
