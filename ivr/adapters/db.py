"""The database: one engine per process, SQLite tuned for many readers and one writer."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ivr.adapters.prepared import Cursor


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
    """The engine and the way to open a unit of work on it."""

    def __init__(self, url: str, **options: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **options)
        self._sqlite = sqlite = self.engine.dialect.name == "sqlite"
        database = self.engine.url.database
        self._writers = (
            WriterQueue(Path(database + "-writers"))
            if sqlite and database and database != ":memory:"
            else None
        )
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

    @contextmanager
    def driver(self, write: bool = False) -> Iterator[Cursor]:
        """One transaction straight on a driver connection of the pool, for the statements of
        `ivr.adapters.prepared` (a call's turns). Committed on success, rolled back on error;
        the driver's errors come out as SQLAlchemy's, like everywhere else."""
        if write and self._writers is not None:
            with self._writers, self._driver(write) as cursor:
                yield cursor
        else:
            with self._driver(write) as cursor:
                yield cursor

    @contextmanager
    def _driver(self, write: bool) -> Iterator[Cursor]:
        dialect = self.engine.dialect
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if self._sqlite:  # the driver opens nothing itself (see configure_sqlite)
                    cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                yield Cursor(cursor, dialect)
                connection.commit()
            except dialect.loaded_dbapi.Error as error:
                with suppress(Exception):  # the connection may be what failed
                    connection.rollback()
                raise DBAPIError.instance(None, None, error, dialect.loaded_dbapi.Error) from error
            except BaseException:
                with suppress(Exception):
                    connection.rollback()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool

    def dispose(self) -> None:
        self.engine.dispose()
        if self._writers is not None:
            self._writers.close()


class WriterQueue:
    """The turns' writers of one SQLite file, taking their turn at once.

    SQLite has one write lock, and a writer that finds it taken sleeps in its busy handler
    (1, 2, 5, 10 ... 100 ms) whatever the time the lock is held (some 0.1 ms for a turn):
    under load, that sleep made the slowest answers. A lock per process and an advisory file
    lock between processes wake the next writer the moment the lock is free. Writers that do
    not queue here (an import) are still waited for by the busy handler, as before.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._threads = threading.Lock()
        self._file: tuple[int, int] | None = None  # (pid, fd): a forked child opens its own

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *_exc: object) -> None:
        try:
            fcntl.flock(self._fd(), fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def close(self) -> None:
        if self._file is not None and self._file[0] == os.getpid():
            os.close(self._file[1])
        self._file = None

    def _fd(self) -> int:
        if self._file is None or self._file[0] != os.getpid():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self._file = (os.getpid(), os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
        return self._file[1]
