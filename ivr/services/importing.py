"""Importing the reference data: the weekly client file and the directory (FORMATS.md).

Both follow one discipline: read and check everything, report every bad line, and only when
nothing is wrong, swap the new data in at once. The data in force is never half-replaced,
and calls keep being answered from it while an import runs:
- the client file lives in two tables: the one in force, and the standby the next import
  empties and loads, in short batches, without indexes (built once at the end: ten times
  faster than keeping them up row by row). Readers never look at the standby; the swap is a
  one-row update of `reference_state`. The previous file stays in the old table until the
  next import;
- the directory (hundreds of rows) is replaced in one short transaction.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import Table, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex

from ivr.adapters.csv_source import (
    CsvSource,
    NotUtf8,
    UnreadableFile,
    file_sha256,
    is_blank,
)
from ivr.adapters.db import Database
from ivr.adapters.orm import (
    CLIENT_COLUMNS,
    CLIENT_TABLES,
    AgencyRow,
    ImportRecord,
    ManagerShiftRow,
    OnCallLineRow,
    OnCallWindowRow,
    RegionRow,
)
from ivr.adapters.repository import reference_state, table_in_force
from ivr.clock import Clock
from ivr.domain.model import Contract
from ivr.domain.oncall import local_date
from ivr.services import reference_rows as rows
from ivr.services.reference_rows import Schema

_BATCH = 50_000
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

    def open(self, path: Path) -> CsvSource | None:
        """The file, if it can be read at all and its header is right; else None, reported."""
        try:
            source = CsvSource.open(path)
        except FileNotFoundError:
            self.error(0, "file missing")
            return None
        except UnreadableFile as problem:
            self.error(0, str(problem))
            return None
        return source if self._header_ok(source.header) else None

    def all_rows(self, path: Path) -> list[tuple[Any, ...]]:
        """Every good row of a small file (the directory's)."""
        source = self.open(path)
        if source is None:
            return []
        try:
            return list(self.rows(source))
        except NotUtf8:
            self.restart()
            return list(self.rows(source.as_windows_1252()))

    def restart(self) -> None:
        """Forget what this file's reading reported: it is read again in another encoding."""
        name = self.schema.file_name
        self.report.errors[:] = [p for p in self.report.errors if p.file != name or p.line <= 1]
        self.report.warnings[:] = [p for p in self.report.warnings if p.file != name or p.line <= 1]

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

    def rows(self, source: CsvSource) -> Iterator[tuple[Any, ...]]:
        """Good rows as `(line, value, ...)` in schema order; bad ones go to the report.

        Raises NotUtf8 where a UTF-8 file turns out not to be: see `restart`."""
        foreign = set(source.foreign_lines)
        for line in source.foreign_lines:
            self.error(
                line,
                "this line is UTF-8 while the rest of the file is Windows-1252: "
                "save the whole file in one encoding",
            )
        width = len(source.header)
        positions = [
            source.header.index(c.name) if c.name in source.header else None
            for c in self.schema.columns
        ]
        check = _compile_check(self.schema, positions)
        count = 0
        with source.reader() as reader:
            try:
                for fields in reader:
                    line = reader.line_num
                    try:
                        values = check(fields, line) if len(fields) == width else None
                    except (ValueError, _NeedsDetail):
                        values = None
                    if values is None or (foreign and line in foreign):
                        if line not in foreign and not is_blank(fields):
                            self._explain(line, fields, width, positions)
                        continue
                    count += 1
                    yield values
            except csv.Error as error:  # a NUL byte, an unclosed quote at the end
                self.error(reader.line_num, f"unreadable from here on: {error}")
                return
        if count == 0 and not self.report.errors:
            self.error(0, "no data rows (header only): refusing to empty the data in force")

    def _explain(
        self, line: int, fields: list[str], width: int, positions: list[int | None]
    ) -> None:
        if len(fields) != width:
            self.error(
                line,
                f"{len(fields)} fields where the header has {width} (a stray "
                f"separator{' or a missing one' if len(fields) < width else ''}?)",
            )
        else:
            raw = [fields[p].strip() if p is not None else "" for p in positions]
            self.error(line, "; ".join(self._reasons(raw)))

    def _reasons(self, raw: list[str]) -> list[str]:
        """Every reason a row is wrong, column by column (the slow path, for bad rows)."""
        reasons = []
        for column, value in zip(self.schema.columns, raw, strict=True):
            if not value:
                if column.required:
                    reasons.append(f"{column.name} is missing")
                continue
            try:
                column.parse(value)
            except ValueError as error:
                reasons.append(str(error))
        return reasons


class _NeedsDetail(Exception):
    """A row the fast path will not judge: the slow path names what is wrong."""


def _compile_check(schema: Schema, positions: list[int | None]) -> Callable[[list[str], int], Any]:
    """The check of a good row, compiled from the schema into one straight-line function,
    the way `collections.namedtuple` builds its classes: a million-row client file goes
    through it, and a loop over columns costs more than the checks themselves.

    `check(fields, line)` returns `(line, value, ...)` in schema order, or raises at the first
    doubt; the caller then asks `_Checker._reasons` for every detail.
    """
    lines, values = [], []
    for i, (column, position) in enumerate(zip(schema.columns, positions, strict=True)):
        lines.append(
            f"    v{i} = f[{position}].strip()" if position is not None else f"    v{i} = ''"
        )
        if column.parse is rows.text:
            lines.append(f"    if len(v{i}) > {rows.TEXT_LIMIT}: raise NeedsDetail")
            value = f"v{i}"
        else:
            value = f"parse{i}(v{i})"
        if column.required:
            lines.append(f"    if not v{i}: raise NeedsDetail")
            values.append(value)
        else:
            values.append(f"({value} if v{i} else default{i})")
    source = (
        "def check(f, line):\n" + "\n".join(lines) + f"\n    return (line, {', '.join(values)})\n"
    )
    scope: dict[str, Any] = {"NeedsDetail": _NeedsDetail}
    for i, column in enumerate(schema.columns):
        scope[f"parse{i}"], scope[f"default{i}"] = column.parse, column.default
    exec(source, scope)  # noqa: S102 - source built above from our own schema
    check: Callable[[list[str], int], Any] = scope["check"]
    return check


def _start(session: Session, kind: str, name: str, file_hash: str, now: datetime) -> int:
    record = ImportRecord(
        kind=kind, status="running", started_at=now, file_name=name, file_hash=file_hash
    )
    session.add(record)
    session.flush()
    return record.id


def _finish(session: Session, import_id: int, report: ImportReport, now: datetime) -> None:
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


# --- The client file ----------------------------------------------------------------------


def import_clients(db: Database, path: Path, clock: Clock) -> ImportReport:
    """Load the weekly client file, all or nothing; see the module docstring."""
    report = ImportReport("clients", path.name)
    checker = _Checker(report, rows.CLIENTS)
    source = checker.open(path)
    with db.session() as session:
        busy = _running_import(session, clock.now())
        if busy is not None:
            checker.error(0, f"another client import (#{busy}) is running: try again later")
            return report
        agencies = set(session.scalars(select(AgencyRow.cia)))
        import_id = _start(session, "clients", path.name, "", clock.now())
        in_force = table_in_force(session)
    if not agencies:
        checker.error(0, "no directory loaded yet: import the directory first")
    standby = CLIENT_TABLES["clients_b" if in_force is CLIENT_TABLES["clients_a"] else "clients_a"]
    with ThreadPoolExecutor(max_workers=1) as helper:
        # The hash and, later, the comparison with the file in force run beside the load:
        # both are long calls that release the GIL.
        file_hash = helper.submit(file_sha256, path) if source else None
        report.rows = _load_clients(db, standby, checker, source, agencies)
        counting = helper.submit(_client_counts, db, in_force, standby)
        _index(db, standby)
        _report_duplicates(db, standby, checker)
        counts = counting.result()
    with db.session() as session:
        if report.accepted:
            report.counts = counts
            state = reference_state(session)
            state.clients_table, state.clients_import = standby.name, import_id
        record = session.get_one(ImportRecord, import_id)
        record.file_hash = file_hash.result() if file_hash else ""
        _finish(session, import_id, report, clock.now())
    if not report.accepted:
        _empty(db, standby)
    return report


def _load_clients(
    db: Database,
    standby: Table,
    checker: _Checker,
    source: CsvSource | None,
    agencies: set[str],
) -> int:
    """Empty the standby table and load the file's good rows into it; a file that turns out
    not to be UTF-8 is loaded again as Windows-1252."""
    _empty(db, standby)
    if source is None:
        return 0
    try:
        return _load(db, standby, _checked_clients(checker, checker.rows(source), agencies))
    except NotUtf8:
        checker.restart()
        _empty(db, standby)
        rows_ = checker.rows(source.as_windows_1252())
        return _load(db, standby, _checked_clients(checker, rows_, agencies))


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


def _checked_clients(
    checker: _Checker, good_rows: Iterable[tuple[Any, ...]], agencies: set[str]
) -> Iterator[tuple[Any, ...]]:
    """Rows as stored (`line` first, as CLIENT_COLUMNS), after the checks across columns."""
    standard = Contract.STANDARD.value
    for values in good_rows:
        contract, delay_label, agency = values[10], values[11], values[13]
        if agency not in agencies:
            checker.error(values[0], f"agency {agency!r} is not in the directory")
        elif contract != standard and not delay_label:
            checker.error(values[0], f"delay_label is missing (required for a {contract} contract)")
        else:
            yield values


def _batches(items: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _empty(db: Database, table: Table) -> None:
    """Empty a client table that is not in force, and drop its indexes for a fast load."""
    with db.engine.begin() as connection:
        for index in table.indexes:
            connection.execute(DropIndex(index, if_exists=True))
        connection.execute(table.delete())


def _index(db: Database, table: Table) -> None:
    with db.engine.begin() as connection:
        for index in table.indexes:
            connection.execute(CreateIndex(index, if_not_exists=True))


def _load(db: Database, table: Table, clients: Iterable[tuple[Any, ...]]) -> int:
    """Insert rows through the driver in large batches, each its own short transaction, so
    that calls writing their traces never wait long for the import."""
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    columns, markers = ", ".join(CLIENT_COLUMNS), ", ".join([marker] * len(CLIENT_COLUMNS))
    # Our own table and column names; the values are bound.
    sql = f"INSERT INTO {table.name} ({columns}) VALUES ({markers})"  # noqa: S608
    loaded = 0
    for batch in _batches(clients, _BATCH):
        with db.engine.begin() as connection:
            # The driver's own executemany, in SQLAlchemy's transaction: a third faster
            # than going through `exec_driver_sql` for a million rows.
            connection.connection.cursor().executemany(sql, batch)
        loaded += len(batch)
    return loaded


def _report_duplicates(db: Database, table: Table, checker: _Checker) -> None:
    twice = select(table.c.client_id).group_by(table.c.client_id).having(func.count() > 1)
    query = (
        select(table.c.client_id, table.c.line)
        .where(table.c.client_id.in_(twice))
        .order_by(table.c.client_id, table.c.line)
    )
    first: dict[str, int] = {}
    with db.engine.connect() as connection:
        for client_id, line in connection.execute(query):
            if client_id in first:
                checker.error(line, f"client_id {client_id} already on line {first[client_id]}")
            first.setdefault(client_id, line)


def _client_counts(db: Database, old: Table | None, new: Table) -> Counts:
    """Added, changed and removed clients between the file in force and the new one."""
    with db.snapshot() as session:
        total_new = session.scalar(select(func.count()).select_from(new)) or 0
        if old is None:
            return Counts(added=total_new)
        total_old = session.scalar(select(func.count()).select_from(old)) or 0
        differs = or_(*(new.c[n].is_distinct_from(old.c[n]) for n in CLIENT_COLUMNS[2:]))
        common, changed = session.execute(
            select(
                func.count(), func.coalesce(func.sum(case((differs, 1), else_=0)), 0)
            ).select_from(new.join(old, new.c.client_id == old.c.client_id))
        ).one()
    return Counts(added=total_new - common, changed=changed, removed=total_old - common)


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
        path = folder / schema.file_name
        good = _Checker(report, schema).all_rows(path)
        parsed[schema.file_name] = [(values[0], values[1:]) for values in good]
        digest.update(file_sha256(path).encode() if path.is_file() else b"-")
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
    in_force = table_in_force(session)
    if in_force is None:
        return {}
    query = select(in_force.c.agency, func.count()).group_by(in_force.c.agency)
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
