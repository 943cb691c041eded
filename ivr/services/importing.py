"""Importing the reference data: the weekly client file and the directory (FORMATS.md).

Both follow one discipline: read and check everything, report every bad line, and only when
nothing is wrong, swap the new data in at once. The data in force is never half-replaced,
and calls keep being answered from it while an import runs:
- the client file is staged as a new *generation* of rows, in short batches, invisible to
  readers; the swap is a one-row update of `reference_state`; the old generation is deleted
  afterwards in batches, so no write lock is held long enough to delay a call;
- the directory (hundreds of rows) is replaced in one short transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ivr.adapters.csv_source import CsvSource, UnreadableFile
from ivr.adapters.db import Database
from ivr.adapters.orm import (
    CLIENT_COLUMNS,
    AgencyRow,
    ClientRow,
    ImportRecord,
    ManagerShiftRow,
    OnCallLineRow,
    OnCallWindowRow,
    RegionRow,
)
from ivr.adapters.repository import reference_state
from ivr.clock import Clock
from ivr.domain.model import Contract
from ivr.domain.oncall import local_date
from ivr.services import reference_rows as rows
from ivr.services.reference_rows import Schema

_BATCH = 20_000
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


class _Checker:
    """Reads one file against its schema, collecting problems, yielding good rows."""

    def __init__(self, report: ImportReport, schema: Schema) -> None:
        self.report = report
        self.schema = schema

    def error(self, line: int, reason: str) -> None:
        self.report.errors.append(Problem(self.schema.file_name, line, reason))

    def warn(self, line: int, reason: str) -> None:
        self.report.warnings.append(Problem(self.schema.file_name, line, reason))

    def read(self, path: Path) -> tuple[CsvSource | None, Iterator[tuple[int, tuple[Any, ...]]]]:
        try:
            source = CsvSource.open(path)
        except FileNotFoundError:
            self.error(0, "file missing")
            return None, iter(())
        except UnreadableFile as problem:
            self.error(0, str(problem))
            return None, iter(())
        if not self._header_ok(source.header):
            return source, iter(())
        return source, self._rows(source)

    def _header_ok(self, header: list[str]) -> bool:
        duplicates = sorted({n for n in header if header.count(n) > 1 and n})
        missing = [c.name for c in self.schema.columns if c.required and c.name not in header]
        if duplicates:
            self.error(1, f"column(s) named twice in the header: {', '.join(duplicates)}")
        if missing:
            self.error(1, f"missing column(s): {', '.join(missing)} (found: {', '.join(header)})")
        extra = [n for n in header if n not in self.schema.names]
        if extra:
            self.warn(1, f"column(s) ignored: {', '.join(extra)}")
        return not (duplicates or missing)

    def _rows(self, source: CsvSource) -> Iterator[tuple[int, tuple[Any, ...]]]:
        foreign = set(source.foreign_lines)
        for line in source.foreign_lines:
            self.error(
                line,
                "this line is UTF-8 while the rest of the file is Windows-1252: "
                "save the whole file in one encoding",
            )
        positions = [
            (
                c.name,
                c.parse,
                c.required,
                c.default,
                source.header.index(c.name) if c.name in source.header else None,
            )
            for c in self.schema.columns
        ]
        width = len(source.header)
        count = 0
        for line, fields in source.rows():
            if line in foreign:
                continue
            if len(fields) != width:
                self.error(
                    line,
                    f"{len(fields)} fields where the header has {width} "
                    f"(a stray separator{' or a missing one' if len(fields) < width else ''}?)",
                )
                continue
            values: list[Any] = []
            reasons: list[str] = []
            for name, parse, required, default, index in positions:
                raw = fields[index].strip() if index is not None else ""
                if not raw:
                    if required:
                        reasons.append(f"{name} is missing")
                    values.append(default)
                    continue
                try:
                    values.append(parse(raw))
                except ValueError as error:
                    reasons.append(str(error))
            if reasons:
                self.error(line, "; ".join(reasons))
                continue
            count += 1
            yield line, tuple(values)
        if count == 0 and not self.report.errors:
            self.error(0, "no data rows (header only): refusing to empty the data in force")


def _start(session: Session, kind: str, name: str, file_hash: str, now: datetime) -> int:
    record = ImportRecord(
        kind=kind, status="running", started_at=now, file_name=name, file_hash=file_hash
    )
    session.add(record)
    session.flush()
    return record.id


def _finish(session: Session, import_id: int, report: ImportReport, now: datetime) -> None:
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


# --- The client file ----------------------------------------------------------------------


def import_clients(db: Database, path: Path, clock: Clock) -> ImportReport:
    """Load the weekly client file, all or nothing; see the module docstring."""
    report = ImportReport("clients", path.name)
    checker = _Checker(report, rows.CLIENTS)
    source, good_rows = checker.read(path)
    with db.session() as session:
        busy = _running_import(session, clock.now())
        if busy is not None:
            checker.error(0, f"another client import (#{busy}) is running: try again later")
            return report
        agencies = set(session.scalars(select(AgencyRow.cia)))
        generation = _start(
            session, "clients", path.name, source.sha256 if source else "", clock.now()
        )
        in_force = reference_state(session).clients_generation
    for stale in _generations(db) - {in_force, generation}:
        _delete_generation(db, stale)  # left by an import that died
    if not agencies:
        checker.error(0, "no directory loaded yet: import the directory first")
    clients = _checked_clients(checker, good_rows, agencies)
    report.rows = _stage_clients(db, generation, clients, report)
    with db.session() as session:
        if report.accepted:
            report.counts = _client_counts(session, in_force, generation)
            reference_state(session).clients_generation = generation
        _finish(session, generation, report, clock.now())
    _delete_generation(db, in_force if report.accepted else generation)
    return report


_ABANDONED_AFTER = timedelta(hours=2)


def _running_import(session: Session, now: datetime) -> int | None:
    """Another client import under way, if any; one running for hours has died: forget it."""
    running = session.scalars(
        select(ImportRecord).where(ImportRecord.kind == "clients", ImportRecord.status == "running")
    ).all()
    for record in running:
        if now - record.started_at < _ABANDONED_AFTER:
            return record.id
        record.status = "failed"
    return None


def _generations(db: Database) -> set[int]:
    with db.engine.connect() as connection:
        return set(connection.scalars(select(ClientRow.generation).distinct()))


def _checked_clients(
    checker: _Checker, good_rows: Iterable[tuple[int, tuple[Any, ...]]], agencies: set[str]
) -> Iterator[tuple[Any, ...]]:
    seen: dict[str, int] = {}
    standard = Contract.STANDARD.value
    for line, values in good_rows:
        client_id, contract, delay_label, agency = values[0], values[9], values[10], values[12]
        reasons = []
        if client_id in seen:
            reasons.append(f"client_id {client_id} already on line {seen[client_id]}")
        else:
            seen[client_id] = line
        if agency not in agencies:
            reasons.append(f"agency {agency!r} is not in the directory")
        if contract != standard and not delay_label:
            reasons.append(f"delay_label is missing (required for a {contract} contract)")
        if reasons:
            checker.error(line, "; ".join(reasons))
        else:
            yield values


def _stage_clients(
    db: Database, generation: int, clients: Iterable[tuple[Any, ...]], report: ImportReport
) -> int:
    """Insert the new generation in short transactions; stop inserting at the first error
    (reading goes on, to report every bad line)."""
    batch: list[dict[str, Any]] = []
    staged = 0
    names = CLIENT_COLUMNS[1:]
    for values in clients:
        if report.errors:
            continue
        record = dict(zip(names, values, strict=True))
        record["generation"] = generation
        batch.append(record)
        if len(batch) >= _BATCH:
            staged += _insert(db, batch)
    if batch and not report.errors:
        staged += _insert(db, batch)
    return staged


def _insert(db: Database, batch: list[dict[str, Any]]) -> int:
    with db.engine.begin() as connection:
        connection.execute(insert(ClientRow), batch)
    done = len(batch)
    batch.clear()
    return done


def _client_counts(session: Session, old: int | None, new: int) -> Counts:
    fresh = select(ClientRow).where(ClientRow.generation == new).subquery()
    if old is None:
        return Counts(added=session.scalar(select(func.count()).select_from(fresh)) or 0)
    previous = select(ClientRow).where(ClientRow.generation == old).subquery()
    joined = fresh.join(previous, fresh.c.client_id == previous.c.client_id)
    differs = [fresh.c[name].is_distinct_from(previous.c[name]) for name in CLIENT_COLUMNS[2:]]
    total_new = session.scalar(select(func.count()).select_from(fresh)) or 0
    total_old = session.scalar(select(func.count()).select_from(previous)) or 0
    common = session.scalar(select(func.count()).select_from(joined)) or 0
    changed = session.scalar(select(func.count()).select_from(joined).where(or_(*differs))) or 0
    return Counts(added=total_new - common, changed=changed, removed=total_old - common)


def _delete_generation(db: Database, generation: int | None) -> None:
    """Delete a generation's rows in batches, each its own short transaction."""
    if generation is None:
        return
    while True:
        with db.engine.begin() as connection:
            doomed = (
                select(ClientRow.client_id)
                .where(ClientRow.generation == generation)
                .limit(_BATCH)
                .scalar_subquery()
            )
            result = connection.execute(
                delete(ClientRow).where(
                    ClientRow.generation == generation, ClientRow.client_id.in_(doomed)
                )
            )
            if result.rowcount < _BATCH:
                return


# --- The directory -------------------------------------------------------------------------


def import_directory(db: Database, folder: Path, clock: Clock) -> ImportReport:
    """Load the five directory files from `folder`, all or nothing."""
    report = ImportReport("directory", str(folder))
    today = local_date(clock.now())
    parsed: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
    digest = hashlib.sha256()
    if not folder.is_dir():
        report.errors.append(Problem(str(folder), 0, "not a folder"))
    for schema in rows.DIRECTORY:
        source, good = _Checker(report, schema).read(folder / schema.file_name)
        parsed[schema.file_name] = list(good)
        digest.update(source.sha256.encode() if source else b"-")
    with db.session() as session:
        import_id = _start(session, "directory", str(folder), digest.hexdigest(), clock.now())
        clients_by_agency = _clients_by_agency(session)
    _check_directory(report, parsed, today, clients_by_agency)
    with db.session() as session:
        if report.accepted:
            _swap_directory(session, parsed, report)
            reference_state(session).directory_import = import_id
        _finish(session, import_id, report, clock.now())
    return report


def _clients_by_agency(session: Session) -> dict[str, int]:
    generation = reference_state(session).clients_generation
    query = (
        select(ClientRow.agency, func.count())
        .where(ClientRow.generation == generation)
        .group_by(ClientRow.agency)
    )
    return {agency: count for agency, count in session.execute(query)}


def _check_directory(
    report: ImportReport,
    parsed: dict[str, list[tuple[int, tuple[Any, ...]]]],
    today: date,
    clients_by_agency: dict[str, int],
) -> None:
    """Checks across rows and files: keys unique, references exist, the roll-out complete."""

    def error(schema: Schema, line: int, reason: str) -> None:
        report.errors.append(Problem(schema.file_name, line, reason))

    def warn(schema: Schema, line: int, reason: str) -> None:
        report.warnings.append(Problem(schema.file_name, line, reason))

    def unique(schema: Schema, key: Any) -> set[Any]:
        seen: dict[Any, int] = {}
        for line, values in parsed[schema.file_name]:
            k = key(values)
            if k in seen:
                error(schema, line, f"{k} already on line {seen[k]}")
            seen.setdefault(k, line)
        return set(seen)

    regions = unique(rows.REGIONS, lambda v: v[0])
    agencies = unique(rows.AGENCIES, lambda v: v[0])
    unique(rows.LINES, lambda v: f"priority {v[4]} for {v[0]}/{v[1]}")
    for line, (cia, _name, region, *_rest, live_from, legacy) in parsed["agencies.csv"]:
        if region not in regions:
            error(rows.AGENCIES, line, f"region {region!r} is not in regions.csv")
        if live_from is not None and live_from > today and not legacy:
            error(
                rows.AGENCIES,
                line,
                f"agency {cia} goes live on {live_from}: its legacy_number is required until then",
            )
    for schema in (rows.WINDOWS, rows.LINES):
        for line, values in parsed[schema.file_name]:
            if values[0] not in agencies:
                error(schema, line, f"agency {values[0]!r} is not in agencies.csv")
    for line, (region, _n, _m, start, end) in parsed["regional_managers.csv"]:
        if region not in regions:
            error(rows.MANAGERS, line, f"region {region!r} is not in regions.csv")
        if end <= start:
            error(rows.MANAGERS, line, "end must come after start")
    for cia, count in sorted(clients_by_agency.items()):
        if cia not in agencies:
            error(
                rows.AGENCIES,
                0,
                f"agency {cia} is missing, but {count} client(s) in force "
                "belong to it: import a client file without them first",
            )
    _warn_uncovered(parsed, warn)
    _warn_planning(parsed, warn)


def _warn_uncovered(parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], warn: Any) -> None:
    lines = {(v[0], v[1]) for _, v in parsed["oncall_lines.csv"]}
    for line, (cia, oncall_type, *_rest) in parsed["oncall_windows.csv"]:
        types = (
            ["individual", "collective", "boiler_room"] if oncall_type == "all" else [oncall_type]
        )
        for t in types:
            if (cia, t) not in lines and (cia, "all") not in lines:
                warn(
                    rows.WINDOWS,
                    line,
                    f"agency {cia} is on call for {t} clients but has no "
                    f"on-call line for them: such calls get the fax only",
                )
                break


def _warn_planning(parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], warn: Any) -> None:
    by_region: dict[str, list[tuple[Any, Any, int]]] = {}
    for line, (region, _n, _m, start, end) in parsed["regional_managers.csv"]:
        by_region.setdefault(region, []).append((start, end, line))
    for region, shifts in by_region.items():
        shifts.sort()
        for (_s1, e1, _l1), (s2, _e2, l2) in pairwise(shifts):
            if s2 < e1:
                warn(rows.MANAGERS, l2, f"overlaps the previous shift of region {region}")
            elif s2 > e1:
                warn(
                    rows.MANAGERS,
                    l2,
                    f"gap in region {region}'s planning from {e1} to {s2}: no manager on duty then",
                )


_DIRECTORY_TABLES = (
    ("regions.csv", RegionRow, ("code", "name", "phone", "fax", "email"), (0,)),
    (
        "agencies.csv",
        AgencyRow,
        (
            "cia",
            "name",
            "region",
            "address",
            "postcode",
            "city",
            "phone",
            "fax",
            "email",
            "department",
            "live_from",
            "legacy_number",
        ),
        (0,),
    ),
    (
        "oncall_windows.csv",
        OnCallWindowRow,
        ("cia", "oncall_type", "days", "start", "end"),
        (0, 1, 2, 3, 4),
    ),
    (
        "oncall_lines.csv",
        OnCallLineRow,
        ("cia", "oncall_type", "mobile", "label", "priority"),
        (0, 1, 4),
    ),
    (
        "regional_managers.csv",
        ManagerShiftRow,
        ("region", "name", "mobile", "start", "end"),
        (0, 3),
    ),
)


def _swap_directory(
    session: Session, parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], report: ImportReport
) -> None:
    """Replace the five tables in the session's one transaction, counting the differences."""
    old = {
        name: _current_rows(session, model, columns)
        for name, model, columns, _ in _DIRECTORY_TABLES
    }
    for _name, model, _columns, _key in reversed(_DIRECTORY_TABLES):
        session.execute(delete(model))
    for name, model, columns, key in _DIRECTORY_TABLES:
        new = [_storable(values) for _, values in parsed[name]]
        if new:
            session.execute(insert(model), [dict(zip(columns, v, strict=True)) for v in new])
        counts = _diff(old[name], new, key)
        report.detail[name] = counts
        report.counts += counts
        report.rows += len(new)


def _storable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """Values as the tables hold them: day sets as `mon,tue`, no NULL for optional text."""
    return tuple(",".join(sorted(v)) if isinstance(v, frozenset) else v for v in values)


def _current_rows(session: Session, model: Any, columns: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in session.execute(select(*(getattr(model, c) for c in columns)))]


def _diff(old: list[tuple[Any, ...]], new: list[tuple[Any, ...]], key: tuple[int, ...]) -> Counts:
    def keyed(rows_: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {tuple(r[i] for i in key): _normal(r) for r in rows_}

    before, after = keyed(old), keyed(new)
    return Counts(
        added=len(after.keys() - before.keys()),
        removed=len(before.keys() - after.keys()),
        changed=sum(1 for k in after.keys() & before.keys() if after[k] != before[k]),
    )


def _normal(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # Compare what was stored with what will be: "" and None alike, instants in UTC.
    return tuple(
        None if v == "" else (v.astimezone(UTC) if isinstance(v, datetime) else v) for v in row
    )
