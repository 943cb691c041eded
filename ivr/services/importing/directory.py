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
from ivr.domain.coverage import DAY, Hours, coverage_gaps, grouped
from ivr.domain.local_time import in_paris
from ivr.domain.model import (
    ONCALL_TYPE_OF_CONTRACT,
    Agency,
    Directory,
    OnCallType,
    OnCallWindow,
)
from ivr.domain.oncall import local_date
from ivr.services import reference_rows as rows
from ivr.services.importing.checking import Checker
from ivr.services.importing.report import (
    Counts,
    ImportReport,
    Problem,
    counted,
    finish_record,
    start_record,
)
from ivr.services.reference_rows import Schema, quoted
from ivr.services.timelines import DAY_NAMES, ONCALL_TYPE_NAMES

NO_CALL = "personne n'est appelé, la fiche est faxée à l'agence"


def import_directory(db: Database, folder: Path, clock: Clock, *, name: str = "") -> ImportReport:
    """Load the five directory files from `folder`, all or nothing. `name` is what the sender
    knows them by (an uploaded zip's name, not the folder it was unpacked into)."""
    name = name or str(folder)
    report = ImportReport("directory", name)
    today = local_date(clock.now())
    parsed: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
    digest = hashlib.sha256()
    if not folder.is_dir():  # nothing to read: each file's absence would only add noise
        report.errors.append(Problem(name, 0, "ce n'est pas un dossier"))
        with db.session() as session:
            import_id = start_record(session, "directory", name, "", clock.now())
            finish_record(session, import_id, report, clock.now())
        return report
    for schema in rows.DIRECTORY:
        path = folder / schema.file_name
        good = Checker(report, schema).all_rows(path)
        parsed[schema.file_name] = [(values[0], values[1:]) for values in good]
        digest.update(file_sha256(path).encode() if path.is_file() else b"-")
    with db.session() as session:
        import_id = start_record(session, "directory", name, digest.hexdigest(), clock.now())
        clients_by_agency = _clients_by_agency(session)
    # A file not read at all (missing, its header wrong) has no rows: every check across
    # files would blame it again, some with advice that would do harm (« import clients
    # without this agency's »). Its own error is the one to fix first.
    if not any(problem.line <= 1 for problem in report.errors):
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

    def unique(schema: Schema, key: Any, said: Any) -> set[Any]:
        """The keys of a file's rows; a key given twice is an error, `said` saying it."""
        seen: dict[Any, int] = {}
        for line, values in parsed[schema.file_name]:
            k = key(values)
            if k in seen:
                error(schema, line, f"{said(values)} figure déjà à la ligne {seen[k]}")
            seen.setdefault(k, line)
        return set(seen)

    regions = unique(rows.REGIONS, lambda v: v[0], lambda v: f"colonne « region » : {quoted(v[0])}")
    agencies = unique(rows.AGENCIES, lambda v: v[0], lambda v: f"colonne « cia » : {quoted(v[0])}")
    unique(
        rows.LINES,
        lambda v: (v[0], v[1], v[4]),
        lambda v: (
            f"colonne « priority » : la priorité {v[4]} de l'agence {quoted(v[0])} "
            f"pour « oncall_type » {quoted(v[1])}"
        ),
    )
    for line, (cia, _name, region, *_rest, live_from, legacy) in parsed["agencies.csv"]:
        if region not in regions:
            error(
                rows.AGENCIES,
                line,
                f"colonne « region » : la région {quoted(region)} n'est pas dans regions.csv",
            )
        if live_from is not None and live_from > today and not legacy:
            error(
                rows.AGENCIES,
                line,
                "colonne « legacy_number » vide : elle est obligatoire jusqu'au "
                f"{quoted(live_from.isoformat())} (« live_from »), jour où ce service prendra "
                f"les appels de l'agence {cia}",
            )
    for schema in (rows.WINDOWS, rows.LINES):
        for line, values in parsed[schema.file_name]:
            if values[0] not in agencies:
                error(
                    schema,
                    line,
                    f"colonne « cia » : l'agence {quoted(values[0])} n'est pas dans agencies.csv",
                )
    for line, (region, _n, _m, start, end) in parsed["regional_managers.csv"]:
        if region not in regions:
            error(
                rows.MANAGERS,
                line,
                f"colonne « region » : la région {quoted(region)} n'est pas dans regions.csv",
            )
        if end <= start:
            error(
                rows.MANAGERS,
                line,
                f"colonne « end » : la fin du créneau ({_when(end)}) doit venir après "
                f"son début (« start », {_when(start)})",
            )
    for cia, count in sorted(clients_by_agency.items()):
        if cia not in agencies:
            belong = "en dépend" if count == 1 else "en dépendent"
            error(
                rows.AGENCIES,
                0,
                f"l'agence {cia} n'est plus dans agencies.csv, mais {counted(count, 'client')} "
                f"en vigueur {belong} : importez d'abord un fichier clients sans les clients "
                "de cette agence",
            )
    _warn_uncovered(parsed, warn)
    _warn_coverage_gaps(parsed, warn)
    _warn_planning(parsed, warn)


def _warn_uncovered(parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], warn: Any) -> None:
    lines = {(v[0], v[1]) for _, v in parsed["oncall_lines.csv"]}
    for line, (cia, oncall_type, *_rest) in parsed["oncall_windows.csv"]:
        types = (
            ["individual", "collective", "boiler_room"] if oncall_type == "all" else [oncall_type]
        )
        for t in types:
            name = ONCALL_TYPE_NAMES[OnCallType(t)]
            if (cia, t) not in lines and (cia, "all") not in lines:
                warn(
                    rows.WINDOWS,
                    line,
                    f"l'agence {cia} est d'astreinte pour ses clients {name} "
                    f"(« {t} ») mais n'a pas de ligne d'astreinte pour eux dans "
                    f"oncall_lines.csv : {NO_CALL}",
                )
                break


def _warn_coverage_gaps(parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], warn: Any) -> None:
    """Hours of the week an agency's windows leave clients who expect cover without one."""
    agencies = [
        Agency(**dict(zip(rows.AGENCIES.names, v, strict=True))) for _, v in parsed["agencies.csv"]
    ]
    windows = [
        OnCallWindow(cia, OnCallType(kind), days, start, end)
        for _, (cia, kind, days, start, end) in parsed["oncall_windows.csv"]
    ]
    directory = Directory.build(agencies=agencies, windows=windows)
    for cia in sorted(directory.agencies):
        for hours in grouped(coverage_gaps(directory, cia)):
            who = " et ".join(
                ONCALL_TYPE_NAMES[ONCALL_TYPE_OF_CONTRACT[c]] for c in hours.contracts
            )
            warn(
                rows.WINDOWS,
                0,
                f"l'agence {cia} n'a pas de plage d'astreinte pour ses clients {who} {said(hours)}",
            )


def said(hours: Hours) -> str:
    """When a gap is and what it costs, as the report says it: `les lun., mar. de 18:00 à
    08:00 le lendemain : personne n'est appelé, ...`; `du ven. 18:00 au lun. 08:00 : ...`."""
    start = hours.start.hour * 60 + hours.start.minute
    spill = (start + hours.length - 1) // DAY  # the days the gap runs into
    end = start + hours.length - spill * DAY  # 24:00 when it ends at midnight
    until = f"{end // 60:02}:{end % 60:02}"
    first = DAY_NAMES[hours.days[0]]
    if spill >= 2 and len(hours.days) == 1:
        when = f"du {first} {hours.start:%H:%M} au {DAY_NAMES[(hours.days[0] + spill) % 7]} {until}"
    else:
        later = {0: "", 1: " le lendemain"}.get(spill, f", {spill} jours plus tard")
        on = "le" if len(hours.days) == 1 else "les"
        days = ", ".join(DAY_NAMES[d] for d in hours.days)
        when = f"{on} {days} de {hours.start:%H:%M} à {until}{later}"
    outcome = (
        f"le technicien n'est appelé qu'à {hours.call_at:%H:%M}, au début de l'astreinte de jour"
        if hours.call_at
        else NO_CALL
    )
    return f"{when} : {outcome}"


def _warn_planning(parsed: dict[str, list[tuple[int, tuple[Any, ...]]]], warn: Any) -> None:
    by_region: dict[str, list[tuple[Any, Any, int]]] = {}
    for line, (region, _n, _m, start, end) in parsed["regional_managers.csv"]:
        by_region.setdefault(region, []).append((start, end, line))
    for region, shifts in by_region.items():
        shifts.sort()
        for (_s1, e1, _l1), (s2, _e2, l2) in pairwise(shifts):
            if s2 < e1:
                warn(
                    rows.MANAGERS,
                    l2,
                    f"chevauche le créneau précédent de la région {quoted(region)} : il commence "
                    f"le {_when(s2)}, avant la fin du précédent, le {_when(e1)}",
                )
            elif s2 > e1:
                warn(
                    rows.MANAGERS,
                    l2,
                    f"trou dans le planning de la région {quoted(region)} du {_when(e1)} au "
                    f"{_when(s2)} : aucun cadre d'astreinte pendant ce temps",
                )


def _when(instant: datetime) -> str:
    """An instant as the back office shows it: Paris time, `24/12/2026 18:00`."""
    return f"{in_paris(instant):%d/%m/%Y %H:%M}"


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
