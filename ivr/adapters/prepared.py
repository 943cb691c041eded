"""Core statements run straight on the driver's cursor, for the few a phone call runs on
every turn.

SQLAlchemy's execution machinery costs some 5 to 10 times what the driver does for a
one-row statement (docs/performance.md, "Webhooks"), and a turn of a call runs a handful of
them while the caller waits. SQLAlchemy still writes the SQL (compiled once per dialect,
from the tables of `ivr.adapters.orm`) and still converts the values (each type's own
bind and result processors, which are public); only the per-execution bookkeeping goes.
Everything else in the project uses sessions as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from threading import Lock
from typing import Any

from sqlalchemy import BindParameter, Dialect, bindparam
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


def binds(*names: str) -> dict[str, BindParameter[Any]]:
    """`column=bindparam("column")` for each name: the values a statement is given."""
    return {name: bindparam(name) for name in names}


class Row:
    """A result row whose values are read by column name, like SQLAlchemy's."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: Mapping[str, int]) -> None:
        self._values = values
        self._index = index

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._index[name]]
        except KeyError:
            raise AttributeError(name) from None


class _Compiled:
    """A statement compiled for one dialect, with its value converters."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        self.sql = str(compiled)
        self.defaults = {
            name: bind.value for name, bind in compiled.binds.items() if bind.value is not None
        }
        for column in (*compiled.insert_prefetch, *compiled.update_prefetch):
            default = column.default if column.default is not None else column.onupdate
            if default is None or not default.is_scalar:  # a callable needs SQLAlchemy's run
                raise ValueError(f"{column.key}: give it a value, its default is not a constant")
            self.defaults[column.key] = getattr(default, "arg", None)
        self.processors: dict[str, Processor] = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                self.processors[name] = processor
        self.positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        columns = list(getattr(statement, "selected_columns", ())) or list(
            getattr(statement, "_returning", ())
        )
        self.columns = {column.key: i for i, column in enumerate(columns)}
        self._dialect = dialect
        self._types = [column.type.dialect_impl(dialect) for column in columns]
        self._results: list[Any] | None = None

    def results(self, description: Sequence[Sequence[Any]]) -> list[Any]:
        """The result converters, made at the first rows: some need the driver's type codes
        (PostgreSQL's numerics)."""
        if self._results is None:
            self._results = [
                type_.result_processor(self._dialect, column[1])
                for type_, column in zip(self._types, description, strict=True)
            ]
        return self._results

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.defaults, **values} if self.defaults else dict(values)
        for name, processor in self.processors.items():
            if name in merged:
                merged[name] = processor(merged[name])
        if self.positions is None:
            return merged
        return tuple(merged[name] for name in self.positions)

    def row(self, values: Sequence[Any], description: Sequence[Sequence[Any]]) -> Row:
        converted = [
            value if process is None else process(value)
            for value, process in zip(values, self.results(description), strict=True)
        ]
        return Row(converted, self.columns)


class Prepared:
    """A Core statement, compiled at its first use for the dialect it runs on."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}
        self._lock = Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.setdefault(
                    dialect.name, _Compiled(self.statement, dialect)
                )
        return compiled

    def execute(self, cursor: Cursor, values: Mapping[str, Any] | None = None) -> int:
        """Run it; the number of rows it changed."""
        compiled = self._for(cursor.dialect)
        cursor.dbapi.execute(compiled.sql, compiled.parameters(values or {}))
        return int(cursor.dbapi.rowcount)

    def execute_many(self, cursor: Cursor, rows: Iterable[Mapping[str, Any]]) -> None:
        compiled = self._for(cursor.dialect)
        cursor.dbapi.executemany(compiled.sql, [compiled.parameters(row) for row in rows])

    def all(self, cursor: Cursor, values: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row it selects."""
        compiled = self._for(cursor.dialect)
        cursor.dbapi.execute(compiled.sql, compiled.parameters(values or {}))
        return [compiled.row(found, cursor.dbapi.description) for found in cursor.dbapi.fetchall()]

    def first(self, cursor: Cursor, values: Mapping[str, Any] | None = None) -> Row | None:
        """The first row it selects (or returns), or None."""
        compiled = self._for(cursor.dialect)
        cursor.dbapi.execute(compiled.sql, compiled.parameters(values or {}))
        found = cursor.dbapi.fetchone()
        return None if found is None else compiled.row(found, cursor.dbapi.description)


class Cursor:
    """A driver cursor inside one transaction, and the dialect its SQL is written in."""

    def __init__(self, dbapi: Any, dialect: Dialect) -> None:
        self.dbapi = dbapi
        self.dialect = dialect
