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


def make_engine(url: str, **options: Any) -> Engine:
    """An engine for `url`; for SQLite, creates the folder and turns on WAL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15}, **options)
        event.listen(engine, "connect", configure_sqlite)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **options)


# Dates as ISO text, as SQLAlchemy stores them; explicit, since Python 3.12 deprecates
# sqlite3's implicit adapter (the client import hands dates to the driver directly).
sqlite3.register_adapter(date, date.isoformat)


def configure_sqlite(dbapi_connection: Any, _record: Any = None) -> None:
    """Every SQLite connection of the app, as it is opened."""
    # pysqlite opens no transaction for reads, so two SELECTs of one unit of work could see
    # two states of the database; SQLAlchemy's recipe: let it do nothing, emit BEGIN ourselves.
    dbapi_connection.isolation_level = None
    # WAL: readers (calls being answered) never wait for a writer (an import).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """The engine and the two ways to open a unit of work on it."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **options)
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
