"""Calls whose end Twilio's status callback never told (the request lost, the database out
of reach at that moment; Twilio does not post it again). What follows a caller's call (a
danger's manager called, the technician called again, the sheet) waits for its end, so the
dispatcher asks: a call quiet for `QUIET` is looked up at Twilio, and one older than any
call can last is taken as ended, whether Twilio answers or not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select

from ivr.adapters.db import Database
from ivr.adapters.orm import CallEventRow, CallRow
from ivr.adapters.twilio_rest import ENDED, UNDER_WAY, TwilioRest
from ivr.services.trace import add_event

log = logging.getLogger(__name__)

# No turn for that long: the caller is put through to someone, or the call is over and its
# end was lost. Asked again after as long (the question leaves an event: the call's latest).
QUIET = timedelta(minutes=10)
LONGEST_CALL = timedelta(hours=4, minutes=10)  # Twilio ends every call within four hours


@dataclass
class CallEnds:
    db: Database
    rest: TwilioRest | None  # none configured: only the longest call's bound applies

    def sweep(self, now: datetime) -> None:
        for call_id, sid, started_at in self._quiet(now):
            if started_at < now - LONGEST_CALL:
                self._end(call_id, now, "never reported")
                continue
            status = self._asked(sid)
            if status is None:
                continue
            if status in UNDER_WAY:
                with self.db.session() as session:
                    turn = session.get_one(CallRow, call_id).turn
                    asked = {"status": status}
                    add_event(
                        session, now, call_id, "status_asked", asked, step="dispatch", turn=turn
                    )
            else:
                self._end(call_id, now, status)

    def _quiet(self, now: datetime) -> list[tuple[int, str, datetime]]:
        recent = exists().where(CallEventRow.call_id == CallRow.id, CallEventRow.at > now - QUIET)
        with self.db.snapshot() as session:
            rows = session.execute(
                select(CallRow.id, CallRow.sid, CallRow.started_at)
                .where(CallRow.ended_at.is_(None), CallRow.started_at < now - QUIET, ~recent)
                .order_by(CallRow.id)
                .limit(50)
            ).all()
        return [(row.id, row.sid, row.started_at) for row in rows]

    def _asked(self, sid: str) -> str | None:
        """The call's status at Twilio; None when it cannot be told (asked again later)."""
        if self.rest is None:
            return None
        try:
            return self.rest.call_outcome(sid).status
        except Exception as error:  # Twilio down or refusing: the longest call's bound stays
            log.warning("could not ask Twilio how a quiet call stands: %s", type(error).__name__)
            return None

    def _end(self, call_id: int, now: datetime, status: str) -> None:
        """Ended now, as the status callback would have said (the dispatcher plans what
        follows at its next pass)."""
        with self.db.session() as session:
            call = session.get_one(CallRow, call_id, with_for_update=True)
            if call.ended_at is not None:
                return  # the callback came meanwhile
            call.ended_at = now
            if status in ENDED:
                call.twilio_status = status
            ended = {"status": status, "step": call.step, "by_caller": call.step != "goodbye"}
            add_event(session, now, call.id, "ended", ended, step=call.step, turn=call.turn)
