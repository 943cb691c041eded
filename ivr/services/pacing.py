"""Outbound calls paced to what Twilio places per second (`TWILIO_CALLS_PER_SECOND`).

Twilio places an account's calls at its rate (1 a second by default) and queues the rest. At
08:00 on a Saturday a thousand next-morning calls fall due; sent as fast as the workers can,
they would sit in Twilio's queue, and a danger call placed at 08:00:05 would wait behind all
of them. So every worker, in every process, takes a slot before placing a call: one row holds
when the next slot opens. An ordinary call takes a slot only once it is open (it waits its
turn, and a slot nobody took is not kept for later); an urgent one (danger, escalation)
reserves the next slot at once, so it goes within one slot of being asked, ahead of the rest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError

from ivr.adapters.db import Database
from ivr.adapters.orm import CallPacingRow
from ivr.clock import Clock

LONGEST_NAP = 0.25  # seconds between two looks for an open slot
FAR_AHEAD = 100  # slots: more reserved than that is a clock out of step, not a queue


@dataclass
class CallPacing:
    db: Database
    clock: Clock
    per_second: float
    sleep: Callable[[float], object] = field(default=time.sleep)

    def wait_turn(self, urgent: bool = False) -> None:
        """Return when this worker may place a call."""
        step = round(1_000_000 / self.per_second)
        while True:
            now = round(self.clock.now().timestamp() * 1_000_000)
            slot = self._take(now, step, urgent)
            if slot is not None:
                if slot > now:
                    self.sleep((slot - now) / 1_000_000)
                return
            self.sleep(min(step / 1_000_000, LONGEST_NAP))

    def _take(self, now: int, step: int, urgent: bool) -> int | None:
        """The slot taken (its start, in µs), or None if none is open yet."""
        row = CallPacingRow
        # A slot far ahead comes from a clock ahead of this one (another host's, a demo's
        # clock moved back): not waited for.
        ahead = (row.next_slot_us > now) & (row.next_slot_us <= now + FAR_AHEAD * step)
        opens = case((ahead, row.next_slot_us), else_=now)
        taking = update(row).where(row.id == 1).values(next_slot_us=opens + step)
        if not urgent:
            taking = taking.where((row.next_slot_us <= now) | ~ahead)
        with self.db.session() as session:
            taken = session.execute(taking.returning(row.next_slot_us)).scalar_one_or_none()
            missing = taken is None and session.get(row, 1) is None
        if taken is not None:
            return int(taken) - step
        return self._first(now, step) if missing else None

    def _first(self, now: int, step: int) -> int | None:
        """The row is missing (a database emptied by hand): made again, its first slot taken."""
        try:
            with self.db.session() as session:
                session.execute(insert(CallPacingRow).values(id=1, next_slot_us=now + step))
        except IntegrityError:  # made meanwhile by another worker: look again
            return None
        return now
