"""What an import says of a file, line by line, and the import history that keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from ivr.adapters.orm import ImportRecord

_REPORT_LINES_KEPT = 2_000


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0: the file as a whole
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line else self.file
        return f"{where}: {self.reason}"


@dataclass
class Counts:
    added: int = 0
    changed: int = 0
    removed: int = 0

    def __iadd__(self, other: Counts) -> Counts:
        self.added += other.added
        self.changed += other.changed
        self.removed += other.removed
        return self


@dataclass
class ImportReport:
    kind: str
    source: str
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    detail: dict[str, Counts] = field(default_factory=dict)
    rows: int = 0

    @property
    def accepted(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if not self.accepted:
            return (
                f"{self.kind} import rejected: {len(self.errors)} error(s) in {self.source}; "
                "the data in force is unchanged"
            )
        c = self.counts
        return (
            f"{self.kind} import accepted from {self.source}: {self.rows} rows; "
            f"added {c.added}, changed {c.changed}, removed {c.removed}"
        )

    def lines(self) -> Iterator[str]:
        """The report, line by line: every error, every warning, the counts."""
        for problem in self.errors:
            yield f"error: {problem}"
        for problem in self.warnings:
            yield f"warning: {problem}"
        for name, c in self.detail.items():
            yield f"{name}: added {c.added}, changed {c.changed}, removed {c.removed}"
        yield self.summary()


def start_record(session: Session, kind: str, name: str, file_hash: str, now: datetime) -> int:
    record = ImportRecord(
        kind=kind, status="running", started_at=now, file_name=name, file_hash=file_hash
    )
    session.add(record)
    session.flush()
    return record.id


def finish_record(session: Session, import_id: int, report: ImportReport, now: datetime) -> None:
    report.errors.sort(key=lambda p: (p.file, p.line))  # found out of order: duplicates last
    text = list(report.lines())
    if len(text) > _REPORT_LINES_KEPT:
        text = [*text[:_REPORT_LINES_KEPT], f"... {len(text) - _REPORT_LINES_KEPT} more lines"]
    session.execute(
        update(ImportRecord)
        .where(ImportRecord.id == import_id)
        .values(
            status="accepted" if report.accepted else "rejected",
            finished_at=now,
            added=report.counts.added,
            changed=report.counts.changed,
            removed=report.counts.removed,
            error_count=len(report.errors),
            report="\n".join(text),
        )
    )
