"""A client file sent from the back office, imported by the worker.

A million-row file takes a minute or more to import: in the web request, it held a web
worker that whole time, beside the calls. The upload is kept in `UPLOAD_FOLDER`, a job of the
worker imports it (as `ivr import clients` does), and the back office shows the import's
report from the import history once it is done.

A file that would remove more than a tenth of the clients in force is imported only when the
administrator confirmed it when sending it (`allow_shrink`, kept with the job): else its
report says how many clients it would remove and how to send it again, confirmed.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ivr.adapters.db import Database
from ivr.adapters.orm import ImportRecord, JobRow
from ivr.clock import Clock
from ivr.services.importing import SHRINK_CONFIRMATION, import_clients
from ivr.services.jobs import Done, Job, JobOutcome, JobQueue

KIND = "import_clients"


def queue_client_file(
    db: Database, clock: Clock, upload: Path, folder: Path, *, allow_shrink: bool = False
) -> None:
    """Keep `upload` (a file about to be removed) for the worker, and plan its import now."""
    kept = folder / uuid.uuid4().hex / upload.name  # its own folder: the name stays the file's
    kept.parent.mkdir(parents=True)
    shutil.move(upload, kept)
    with db.session() as session:
        payload = {"path": str(kept), "name": upload.name, "allow_shrink": allow_shrink}
        JobQueue(db, clock).schedule(
            session, KIND, f"{KIND}:{kept.parent.name}", clock.now(), None, payload
        )


def waiting_imports(db: Database) -> list[str]:
    """The client files sent and not imported yet: their names."""
    with db.snapshot() as session:
        jobs = session.scalars(
            select(JobRow).where(JobRow.kind == KIND, JobRow.status.in_(("pending", "running")))
        ).all()
        return [_name(job.payload) for job in jobs]


def last_client_import(db: Database) -> ImportRecord | None:
    with db.snapshot() as session:
        return session.scalars(
            select(ImportRecord)
            .where(ImportRecord.kind == "clients")
            .order_by(ImportRecord.id.desc())
            .limit(1)
        ).first()


def refused_for_shrinking(record: ImportRecord) -> bool:
    """Whether a client import was refused for removing too many clients unconfirmed (its
    report then names the confirmation to give)."""
    return record.status == "rejected" and SHRINK_CONFIRMATION in record.report


@dataclass
class ClientImports:
    """The worker's side: import the file kept, then remove it."""

    db: Database
    clock: Clock

    def run(self, job: Job) -> JobOutcome:
        path = Path(job.payload["path"])
        if not path.exists():  # imported already by a run cut short after its end
            return Done("gone")
        report = import_clients(
            self.db,
            path,
            self.clock,
            name=_name(job.payload),
            allow_shrink=bool(job.payload.get("allow_shrink")),
        )
        shutil.rmtree(path.parent, ignore_errors=True)
        return Done("accepted" if report.accepted else "rejected")


def _name(payload: Mapping[str, Any]) -> str:
    """The file's name as the administrator sent it (jobs queued before it was kept: the
    name of the file kept, the same)."""
    return str(payload.get("name") or Path(payload["path"]).name)
