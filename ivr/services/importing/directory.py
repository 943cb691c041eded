"""The directory's five files, checked across rows and files, replaced in one short
transaction."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from ivr.adapters.csv_source import file_sha256
from ivr.adapters.db import Database
from ivr.adapters.orm import AgencyRow, ManagerShiftRow, OnCallLineRow, OnCallWindowRow, RegionRow
from ivr.adapters.repository import reference_state, table_in_force
from ivr.clock import Clock
from ivr.domain.oncall import local_date
from ivr.services import reference_rows as rows
from ivr.services.importing.checking import Checker
from ivr.services.importing.report import (
    Counts,
    ImportReport,
    Problem,
    finish_record,
    start_record,
)
from ivr.services.reference_rows import Schema


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
        good = Checker(report, schema).all_rows(path)
        parsed[schema.file_name] = [(values[0], values[1:]) for values in good]
        digest.update(file_sha256(path).encode() if path.is_file() else b"-")
    with db.session() as session:
        import_id = start_record(session, "directory", str(folder), digest.hexdigest(), clock.now())
        clients_by_agency = _clients_by_agency(session)
    _check_directory(report, parsed, today, clients_by_agency)
    with db.session() as session:
        if report.accepted:
            _swap_directory(session, parsed, report)
            reference_state(session).directory_import = import_id
        finish_record(session, import_id, report, clock.now())
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
