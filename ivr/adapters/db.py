"""The database: one engine per process, SQLite tuned for many readers and one writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

# Work nobody waits for on the phone (the dispatcher, an import, the back office) waits this
# long for SQLite's write lock, or for a PostgreSQL connection, then fails and says so; its
# statements may run long (a million-row import).
PATIENT_SECONDS = 15


def make_engine(
    url: str, answer_within: float | None = None, create: bool = True, **options: Any
) -> Engine:
    """An engine for `url`; for SQLite, turns on WAL and, with `create`, makes the folder and
    the file. Without, it opens an existing file only: a database moved away is an error
    to report, not a new empty one to answer calls from.

    `answer_within`: someone is waiting on the line. Every wait is bounded by that many
    seconds: for a connection (and a free one in the pool), for a lock (SQLite's busy
    timeout, PostgreSQL's lock_timeout) and, on PostgreSQL, for a statement."""
    parsed = make_url(url)
    wait = answer_within or PATIENT_SECONDS
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            if create:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            else:
                path = Path(parsed.database).resolve()
                url = f"sqlite:///file:{path}?mode=rw&uri=true"
        engine = create_engine(url, connect_args={"timeout": wait}, **options)
        event.listen(engine, "connect", lambda dbapi, _record: configure_sqlite(dbapi, wait))
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {"connect_timeout": max(2, round(wait))}  # libpq's least: 2
    if answer_within:
        ms = int(answer_within * 1000)
        bounds = f"-c statement_timeout={ms} -c lock_timeout={ms}"
        given = parsed.query.get("options")  # kept: a schema's search_path, say
        connect_args["options"] = f"{given} {bounds}" if isinstance(given, str) else bounds
    return create_engine(
        url, pool_pre_ping=True, pool_timeout=wait, connect_args=connect_args, **options
    )


# Dates as ISO text, as SQLAlchemy stores them; explicit, since Python 3.12 deprecates
# sqlite3's implicit adapter (the client import hands dates to the driver directly).
sqlite3.register_adapter(date, date.isoformat)


def configure_sqlite(dbapi_connection: Any, wait: float = PATIENT_SECONDS) -> None:
    """Every SQLite connection of the app, as it is opened; a lock is waited for `wait` s."""
    # pysqlite opens no transaction for reads, so two SELECTs of one unit of work could see
    # two states of the database; SQLAlchemy's recipe: let it do nothing, emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    # WAL: readers (calls being answered) never wait for a writer (an import).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine and the two ways to open a unit of work on it."""

    def __init__(
        self, url: str, answer_within: float | None = None, create: bool = True, **options: Any
    ) -> None:
        self.url = url
        self.engine = make_engine(url, answer_within, create, **options)
        sqlite = self.engine.dialect.name == "sqlite"
        # Writers take SQLite's write lock at BEGIN: a transaction that read first and then
        # wrote would fail at once (SQLITE_BUSY_SNAPSHOT) if another writer came in between.
        writer = self.engine.execution_options(sqlite_begin="IMMEDIATE") if sqlite else self.engine
        reader = (
            self.engine
            if sqlite
            else self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        )
        self._sessions = sessionmaker(writer, expire_on_commit=False)
        self._snapshots = sessionmaker(reader, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only unit of work that sees one consistent state of the database."""
        with self._snapshots() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
