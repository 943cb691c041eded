"""How long callers' recordings are kept (their voice, their words: personal data).

At most `RECORDING_RETENTION_DAYS` after they were made (default 183, about six months: the
CNIL's guidance for call recordings); then deleted at Twilio, which keeps the audio, and here,
with the deletion on the call's trace. The worker makes the pass as part of its housekeeping,
once a day (by the program's clock); a pass that fails raises an alert and is made again an
hour later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ivr.adapters.db import Database
from ivr.adapters.orm import RecordingRow
from ivr.adapters.twilio_rest import TwilioRest
from ivr.clock import Clock
from ivr.services.trace import add_event, alert_on_failure

log = logging.getLogger(__name__)
DELETED = "deleted"
RETRY = timedelta(hours=1)


@dataclass
class Retention:
    db: Database
    clock: Clock
    rest: TwilioRest | None
    days: int
    next_at: datetime | None = None  # when this worker makes its next pass

    def housekeep(self) -> None:
        """The day's pass, if it is due."""
        now = self.clock.now()
        if self.rest is None or (self.next_at is not None and now < self.next_at):
            return
        try:
            deleted = self.delete_old(now)
        except Exception as error:  # Twilio or the database away: the recordings wait an hour
            self.next_at = now + RETRY
            log.exception("recordings could not be deleted")
            alert_on_failure(self.db, now, "retention_failed", f"{type(error).__name__}")
            return
        self.next_at = now + timedelta(days=1)
        if deleted:
            log.info("%d recording(s) deleted after %d days", deleted, self.days)

    def delete_old(self, now: datetime) -> int:
        """Every recording made more than `days` ago, deleted at Twilio then here, one by one
        (a pass cut short goes on where it stopped); how many."""
        assert self.rest is not None
        cutoff = now - timedelta(days=self.days)
        with self.db.snapshot() as session:
            due = session.scalars(
                select(RecordingRow.sid)
                .where(RecordingRow.received_at < cutoff, RecordingRow.status != DELETED)
                .order_by(RecordingRow.id)
            ).all()
        for sid in due:
            self.rest.delete_recording(sid)  # outside any transaction: no lock held meanwhile
            self._forget(sid, now)
        return len(due)

    def _forget(self, sid: str, now: datetime) -> None:
        """The recording's row keeps that it was made and deleted, not where its audio was;
        the call's trace says so. Once, whichever worker gets there first."""
        with self.db.session() as session:
            forgotten = session.execute(
                update(RecordingRow)
                .where(RecordingRow.sid == sid, RecordingRow.status != DELETED)
                .values(status=DELETED, url="")
                .returning(RecordingRow.call_id, RecordingRow.kind)
            ).one_or_none()
            if forgotten is not None and forgotten.call_id is not None:
                detail = {"recording": sid, "kind": forgotten.kind, "kept_days": self.days}
                add_event(
                    session, now, forgotten.call_id, "recording_deleted", detail, step="retention"
                )
