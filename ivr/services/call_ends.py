"""A call's end: as Twilio's status callback tells it, or, when that callback was lost (the
database out of reach at that moment; Twilio does not post it again), as Twilio answers when
asked. What follows a caller's call (a danger's manager called, the technician called again,
the sheet) waits for its end, so the dispatcher asks: a call quiet for `QUIET` is looked up at
Twilio, and one older than any call can last is taken as ended, whether Twilio answers or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow
from ivr.adapters.twilio_rest import ENDED, TwilioRest
from ivr.services.trace import add_event

log = logging.getLogger(__name__)

# No event for that long: the caller is put through to someone, or the call is over and its
# end was lost. Each question leaves an event, so a call is asked about once a `QUIET`.
QUIET = timedelta(minutes=10)
LONGEST_CALL = timedelta(hours=4, minutes=10)  # Twilio ends every call within four hours
PER_PASS = 10  # calls asked about in one pass: the pass never holds the worker long


def end(session: Session, call: CallRow, now: datetime, status: str, asked: bool = False) -> None:
    """The call is over (`asked`: learned by asking Twilio, its callback lost): traced once,
    saying whether the caller hung up before the goodbye."""
    if call.ended_at is not None:
        return
    call.ended_at = now
    ended = {"status": status, "step": call.step, "by_caller": call.step != "goodbye"}
    if asked:
        ended["asked"] = True
    add_event(session, now, call.id, "ended", ended, step=call.step, turn=call.turn)


@dataclass
class CallEnds:
    db: Database
    rest: TwilioRest | None  # none configured: only the longest call's bound applies

    def sweep(self, now: datetime) -> None:
        for call_id in self._quiet(now):
            sid = self._claimed(call_id, now)
            if sid is None:
                continue  # another worker asks, or an event came meanwhile
            status = self._asked(sid)
            if status in ENDED:
                with self.db.session() as session:
                    call = session.get_one(CallRow, call_id, with_for_update=True)
                    call.twilio_status = status
                    end(session, call, now, status, asked=True)

    def _quiet(self, now: datetime) -> list[int]:
        recent = exists().where(CallEventRow.call_id == CallRow.id, CallEventRow.at > now - QUIET)
        with self.db.snapshot() as session:
            return list(
                session.scalars(
                    select(CallRow.id)
                    .where(CallRow.ended_at.is_(None), CallRow.started_at < now - QUIET, ~recent)
                    .order_by(CallRow.id)
                    .limit(PER_PASS)
                )
            )

    def _claimed(self, call_id: int, now: datetime) -> str | None:
        """The call's SID, once its question is traced (locked, still quiet): the event makes
        it recent, for the other workers and for the next `QUIET`. A call past the longest
        is ended instead (None)."""
        with self.db.session() as session:
            call = session.get_one(CallRow, call_id, with_for_update=True)
            latest = session.scalar(
                select(CallEventRow.at)
                .where(CallEventRow.call_id == call_id)
                .order_by(CallEventRow.id.desc())
                .limit(1)
            )
            if call.ended_at is not None or (latest is not None and latest > now - QUIET):
                return None
            if call.started_at < now - LONGEST_CALL:
                end(session, call, now, "never reported")
                return None
            if self.rest is None:
                return None
            add_event(session, now, call.id, "status_asked", {}, step="dispatch", turn=call.turn)
            return call.sid

    def _asked(self, sid: str) -> str | None:
        """The call's status at Twilio; None when it cannot tell (asked again a `QUIET` on)."""
        assert self.rest is not None
        try:
            return self.rest.call_outcome(sid).status
        except Exception as error:  # Twilio down or refusing: the longest call's bound stays
            log.warning("could not ask Twilio how a quiet call stands: %s", type(error).__name__)
            return None
