"""Each `ivr worker` says it is alive: a row per worker process, its last beat at most
`EVERY` old, removed when it stops as asked. The operations page shows who was seen when; a
worker not seen for a minute died or is stuck (its jobs go to the others when their lease
runs out)."""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, update

from ivr.adapters.db import Database
from ivr.adapters.orm import WorkerBeatRow
from ivr.clock import Clock

log = logging.getLogger(__name__)

EVERY = timedelta(seconds=15)


@dataclass
class Beats:
    db: Database
    clock: Clock
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    last: datetime | None = None

    def housekeep(self) -> None:
        now = self.clock.now()
        if self.last is not None and now - self.last < EVERY:
            return
        with self.db.session() as session:
            seen = session.execute(
                update(WorkerBeatRow).where(WorkerBeatRow.name == self.name).values(seen_at=now)
            )
            if not seen.rowcount:  # type: ignore[attr-defined]
                session.add(WorkerBeatRow(name=self.name, started_at=now, seen_at=now))
        self.last = now

    def stop(self) -> None:
        """Stopped as asked (a restart, a host taken out): no longer listed, so that only a
        worker that died or is stuck shows as silent."""
        try:
            with self.db.session() as session:
                session.execute(delete(WorkerBeatRow).where(WorkerBeatRow.name == self.name))
        except Exception as error:  # stopping anyway: its row will show it silent
            log.warning("could not say this worker stopped: %s", type(error).__name__)
