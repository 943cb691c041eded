"""The statements a call's turns run straight on the driver (`ivr.adapters.prepared`) store
and read exactly what SQLAlchemy's sessions do, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from ivr.adapters.db import Database
from ivr.adapters.orm import CallRow
from ivr.adapters.prepared import Prepared, binds

# The columns not given take their defaults (constants), as with the ORM.
_INSERT = Prepared(
    insert(CallRow).values(**binds("sid", "started_at", "state", "danger")).returning(CallRow.id)
)
_READ = Prepared(
    select(CallRow.id, CallRow.started_at, CallRow.state, CallRow.danger, CallRow.turn).where(
        CallRow.sid == bindparam("sid")
    )
)
_NEXT = Prepared(
    update(CallRow)
    .where(CallRow.sid == bindparam("sid"), CallRow.turn == bindparam("expected"))
    .values(turn=bindparam("next"))
)

PARIS_WINTER = timezone(timedelta(hours=1))


def test_values_round_trip_like_the_orm(db: Database) -> None:
    started = datetime(2026, 12, 22, 23, 0, 5, 123456, tzinfo=PARIS_WINTER)
    state = {"step": "identify", "tries": 2, "client_id": "10000002", "words": "odeur de gaz"}
    with db.driver(write=True) as cursor:
        created = _INSERT.first(
            cursor, {"sid": "CAdriver1", "started_at": started, "state": state, "danger": None}
        )
    assert created is not None and created.id > 0

    with db.snapshot() as session:  # what the ORM sees of it
        row = session.scalars(select(CallRow).where(CallRow.sid == "CAdriver1")).one()
        assert row.id == created.id
        assert row.started_at == started and row.started_at.tzinfo is not None
        assert row.started_at.utcoffset() == timedelta(0)
        assert row.state == state and row.danger is None
        assert (row.turn, row.step, row.status_sequence, row.direction) == (
            0,
            "welcome",
            -1,
            "inbound",
        )

    with db.driver() as cursor:  # and what the driver reads back
        read = _READ.first(cursor, {"sid": "CAdriver1"})
        missing = _READ.first(cursor, {"sid": "CAnobody"})
    assert missing is None
    assert read is not None
    assert (read.id, read.started_at, read.state, read.danger) == (
        created.id,
        started.astimezone(UTC),
        state,
        None,
    )
    with pytest.raises(AttributeError):
        _ = read.not_a_column


def test_a_guarded_update_reports_the_rows_it_changed(db: Database) -> None:
    now = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)
    with db.driver(write=True) as cursor:
        _INSERT.first(cursor, {"sid": "CAguard", "started_at": now, "state": {}, "danger": "gas"})
    with db.driver(write=True) as cursor:
        assert _NEXT.execute(cursor, {"sid": "CAguard", "expected": 0, "next": 1}) == 1
        assert _NEXT.execute(cursor, {"sid": "CAguard", "expected": 0, "next": 1}) == 0


def test_a_failed_transaction_leaves_nothing_and_raises_sqlalchemys_error(db: Database) -> None:
    now = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)
    with db.driver(write=True) as cursor:
        _INSERT.first(cursor, {"sid": "CAonce", "started_at": now, "state": {}, "danger": None})
    with pytest.raises(IntegrityError), db.driver(write=True) as cursor:
        _INSERT.first(cursor, {"sid": "CAother", "started_at": now, "state": {}, "danger": None})
        _INSERT.first(cursor, {"sid": "CAonce", "started_at": now, "state": {}, "danger": None})
    with db.driver() as cursor:
        assert _READ.first(cursor, {"sid": "CAother"}) is None  # rolled back with the rest


def test_writers_of_one_process_take_their_turn_on_sqlite(db: Database) -> None:
    """On SQLite, a second writer waits for the first to commit, then goes at once (no busy
    sleep); on PostgreSQL, writers of different calls do not wait for each other."""
    now = datetime(2026, 12, 22, 22, 0, tzinfo=UTC)
    order: list[str] = []
    inside = threading.Event()

    def first() -> None:
        with db.driver(write=True) as cursor:
            _INSERT.first(
                cursor, {"sid": "CAfirst", "started_at": now, "state": {}, "danger": None}
            )
            inside.set()
            time.sleep(0.2)
            order.append("first commits")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    with db.driver(write=True) as cursor:
        order.append("second writes")
        _INSERT.first(cursor, {"sid": "CAsecond", "started_at": now, "state": {}, "danger": None})
    thread.join()
    if db.engine.dialect.name == "sqlite":
        assert order == ["first commits", "second writes"]
    else:
        assert order == ["second writes", "first commits"]
