"""The weekly client file: read and checked whole, loaded into the standby table without
indexes (in short batches on SQLite, in one `COPY` on PostgreSQL), then swapped in by a one-row
update (the module `ivr.services.importing` says why).

A file that would remove more than a tenth of the clients in force is refused unless
confirmed: an export cut short (5 rows for 51) is otherwise a perfectly valid file, and the
clients it drops would be strangers to the service at night."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Index, Table, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, DropIndex

from ivr.adapters.csv_source import CsvSource, NotUtf8, file_sha256
from ivr.adapters.db import Database
from ivr.adapters.orm import CLIENT_COLUMNS, CLIENT_TABLES, AgencyRow, ImportRecord
from ivr.adapters.repository import reference_state, table_in_force
from ivr.clock import Clock
from ivr.domain.model import Contract
from ivr.services import reference_rows as rows
from ivr.services.importing.checking import Checker
from ivr.services.importing.report import Counts, ImportReport, finish_record, start_record
from ivr.services.reference_rows import quoted

_BATCH = 50_000
SHRINK_PERCENT = 10  # of the clients in force, a file may remove without being confirmed
# The back office's confirmation, named by the report of a file refused for shrinking.
SHRINK_CONFIRMATION = "J'accepte que le fichier retire plus de 10 % des clients"


def import_clients(
    db: Database, path: Path, clock: Clock, *, name: str = "", allow_shrink: bool = False
) -> ImportReport:
    """Load the weekly client file, all or nothing; see the module docstring. `name` is the
    file's name as its sender knows it (an upload's; else the path's); `allow_shrink`
    confirms a file that removes more than `SHRINK_PERCENT` % of the clients in force."""
    name = name or path.name
    report = ImportReport("clients", name)
    checker = Checker(report, rows.CLIENTS, name)
    source = checker.open(path)
    with db.session() as session:
        busy = _running_import(session, clock.now())
        if busy is not None:
            checker.error(
                0,
                f"une autre importation du fichier clients (n° {busy}) est en cours : "
                "réessayez dans quelques minutes",
            )
            return report
        agencies = set(session.scalars(select(AgencyRow.cia)))
        import_id = start_record(session, "clients", name, "", clock.now())
        in_force = table_in_force(session)
    if not agencies:
        checker.error(0, "aucun annuaire chargé : importez d'abord l'annuaire")
    standby = CLIENT_TABLES["clients_b" if in_force is CLIENT_TABLES["clients_a"] else "clients_a"]
    with ThreadPoolExecutor(max_workers=1) as helper:
        # The hash and, later, the comparison with the file in force run beside the load:
        # both are long calls that release the GIL.
        file_hash = helper.submit(file_sha256, path) if source else None
        report.rows = _load_clients(db, standby, checker, source, agencies)
        counting = helper.submit(_client_counts, db, in_force, standby)
        _index(db, standby, checker)
        counts, in_force_count = counting.result()
    if report.accepted:  # a file with bad lines is judged on them first: its counts are partial
        _guard_shrink(checker, counts.removed, in_force_count, allow_shrink)
    with db.session() as session:
        if report.accepted:
            report.counts = counts
            state = reference_state(session)
            state.clients_table, state.clients_import = standby.name, import_id
        record = session.get_one(ImportRecord, import_id)
        record.file_hash = file_hash.result() if file_hash else ""
        finish_record(session, import_id, report, clock.now())
    if not report.accepted:
        _empty(db, standby)
    return report


def _load_clients(
    db: Database,
    standby: Table,
    checker: Checker,
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
    checker: Checker, good_rows: Iterable[tuple[Any, ...]], agencies: set[str]
) -> Iterator[tuple[Any, ...]]:
    """Rows as stored (`line` first, as CLIENT_COLUMNS), after the checks across columns."""
    standard = Contract.STANDARD.value
    for values in good_rows:
        contract, delay_label, agency = values[10], values[11], values[13]
        if agency not in agencies:
            checker.error(
                values[0],
                f"colonne « agency » : l'agence {quoted(agency)} n'est pas dans l'annuaire",
            )
        elif contract != standard and not delay_label:
            checker.error(
                values[0],
                "colonne « delay_label » vide : elle est obligatoire pour un contrat "
                + quoted(contract),
            )
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
        # The client id's index as it was named before migration 0011: an import by the
        # release before, during an upgrade, may have built it again.
        connection.execute(DropIndex(Index(f"ix_{table.name}_client_id"), if_exists=True))
        connection.execute(table.delete())


def _index(db: Database, table: Table, checker: Checker) -> None:
    """Build the indexes, each in its own transaction: SQLite's write lock, which calls need
    for their traces, is held for one index at a time, not for all of them.

    The client id's index is unique and built first: it is the duplicate check of a good
    file, for free. Where it cannot be built, the file's duplicates are named and the other
    indexes are not built: the file is refused."""
    for index in sorted(table.indexes, key=lambda i: (not i.unique, i.name)):
        try:
            with db.engine.begin() as connection:
                connection.execute(CreateIndex(index, if_not_exists=True))
        except IntegrityError:
            if not _report_duplicates(db, table, checker):  # another import at the same time
                checker.error(
                    0,
                    "les clients n'ont pas pu être indexés (une autre importation en même "
                    "temps ?) : réessayez",
                )
            return


def _load(db: Database, table: Table, clients: Iterable[tuple[Any, ...]]) -> int:
    """Insert rows through the driver in large batches, each its own short transaction, so
    that calls writing their traces never wait long for the import. PostgreSQL, where writers
    do not wait for one another, takes them in one `COPY` (psycopg's copy support)."""
    columns = ", ".join(CLIENT_COLUMNS)
    if db.engine.dialect.name == "postgresql":
        return _copy(db, f"COPY {table.name} ({columns}) FROM STDIN", clients)
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    markers = ", ".join([marker] * len(CLIENT_COLUMNS))
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


def _copy(db: Database, copy_sql: str, clients: Iterable[tuple[Any, ...]]) -> int:
    """One `COPY` fed row by row as each is checked, so that PostgreSQL stores a row while
    the next ones are being checked."""
    with db.engine.begin() as connection:
        cursor = connection.connection.cursor()
        with cursor.copy(copy_sql) as copy:
            for row in clients:
                copy.write_row(row)
        return int(cursor.rowcount)


def _report_duplicates(db: Database, table: Table, checker: Checker) -> int:
    """Name every line whose client id an earlier line has (the unique index refused them);
    how many were named."""
    twice = select(table.c.client_id).group_by(table.c.client_id).having(func.count() > 1)
    query = (
        select(table.c.client_id, table.c.line)
        .where(table.c.client_id.in_(twice))
        .order_by(table.c.client_id, table.c.line)
    )
    first: dict[str, int] = {}
    named = 0
    with db.engine.connect() as connection:
        for client_id, line in connection.execute(query):
            if client_id in first:
                named += 1
                checker.error(
                    line,
                    f"colonne « client_id » : {quoted(client_id)} figure déjà à la ligne "
                    f"{first[client_id]}",
                )
            first.setdefault(client_id, line)
    return named


def _guard_shrink(checker: Checker, removed: int, in_force: int, allow_shrink: bool) -> None:
    """Refuse a file that removes too many clients, unless confirmed; say so either way."""
    if removed * 100 <= in_force * SHRINK_PERCENT:
        return
    share = f"{removed} des {in_force} clients en vigueur ({removed * 100 / in_force:.0f} %)"
    if allow_shrink:
        checker.warn(0, f"retire {share}, comme confirmé")
        return
    checker.error(
        0,
        f"retirerait {share}, plus de {SHRINK_PERCENT} % : un tel fichier n'est importé "
        "qu'une fois confirmé, au cas où il aurait été tronqué ; rien n'a changé. Si le fichier "
        f"est juste, renvoyez-le en cochant la case « {SHRINK_CONFIRMATION} » "
        "(en ligne de commande : ivr import clients FICHIER --allow-shrink)",
    )


def _client_counts(db: Database, old: Table | None, new: Table) -> tuple[Counts, int]:
    """Added, changed and removed clients between the file in force and the new one; how
    many clients the file in force holds."""
    with db.snapshot() as session:
        total_new = session.scalar(select(func.count()).select_from(new)) or 0
        if old is None:
            return Counts(added=total_new), 0
        total_old = session.scalar(select(func.count()).select_from(old)) or 0
        differs = or_(*(new.c[n].is_distinct_from(old.c[n]) for n in CLIENT_COLUMNS[2:]))
        common, changed = session.execute(
            select(
                func.count(), func.coalesce(func.sum(case((differs, 1), else_=0)), 0)
            ).select_from(new.join(old, new.c.client_id == old.c.client_id))
        ).one()
    counts = Counts(added=total_new - common, changed=changed, removed=total_old - common)
    return counts, total_old
