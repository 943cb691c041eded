"""What an import says of a file, line by line, and the import history that keeps it.

The report is read by the company's people (the back office shows it, `ivr import` prints it):
it is in French. Column names and values stay as the files have them, between « »."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from ivr.adapters.orm import ImportRecord

_REPORT_LINES_KEPT = 2_000
# What is imported, as the summary says it: « Import du fichier clients refusé ».
_KIND_NAMES = {"clients": "du fichier clients", "directory": "de l'annuaire"}


def counted(count: int, singular: str, plural: str = "") -> str:
    """`0 ligne`, `1 ligne`, `2 lignes`: in French, 0 and 1 are singular."""
    return f"{count} {singular if count <= 1 else plural or singular + 's'}"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 0: the file as a whole
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, ligne {self.line}" if self.line else self.file
        return f"{where} : {self.reason}"


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

    def __str__(self) -> str:
        return (
            f"{counted(self.added, 'ajouté')}, {counted(self.changed, 'modifié')}, "
            f"{counted(self.removed, 'retiré')}"
        )


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
        what = _KIND_NAMES.get(self.kind, f"de {self.kind}")
        if not self.accepted:
            return (
                f"Import {what} refusé : {counted(len(self.errors), 'erreur')} dans "
                f"{self.source} ; les données en vigueur n'ont pas changé"
            )
        return (
            f"Import {what} accepté depuis {self.source} : {counted(self.rows, 'ligne')} ; "
            f"{self.counts}"
        )

    def lines(self) -> Iterator[str]:
        """The report, line by line: every error, every warning, the counts."""
        for problem in self.errors:
            yield f"erreur : {problem}"
        for problem in self.warnings:
            yield f"avertissement : {problem}"
        for name, counts in self.detail.items():
            yield f"{name} : {counts}"
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
    if len(text) > _REPORT_LINES_KEPT:  # the summary, last, is kept
        left_out = counted(len(text) - _REPORT_LINES_KEPT, "autre ligne", "autres lignes")
        text = [*text[: _REPORT_LINES_KEPT - 1], f"… et {left_out} (rapport tronqué)", text[-1]]
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
