"""Statements compiled once per dialect and run on the driver's own cursor, inside a unit of work.

A request's hot statements (claiming an idempotency key, inserting a session and its lines,
keeping the answer) cost SQLAlchemy 30-40 microseconds each on its execution path (events,
execution context, result set-up) against under 10 for the driver to run them on SQLite. These
keep what SQLAlchemy decides (the SQL text for the dialect, its parameter style, each column
type's conversion of values in and out) and skip the per-call machinery.

What they leave out, so what a caller must not rely on: statement events, Python-side column
defaults (every value is given), ORM autoflush of objects added later than the last flush
(pending objects are flushed first), and expanding (IN-list) parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.sql.expression import Executable, ReturnsRows
from sqlmodel import Session

Convert = Callable[[Any], Any] | None


@dataclass(slots=True)
class _Compiled:
    sql: str
    positional: bool
    # (bind name, the caller's parameter key or None for a constant, the constant, the type's
    # conversion to the driver) in the order the driver takes them
    binds: tuple[tuple[str, str | None, Any, Convert], ...]
    # each returned column's type, and its conversion from the driver once the driver has
    # said what it returns (PostgreSQL's numeric conversions depend on it)
    returned: tuple[Any, ...]
    results: tuple[Convert, ...] | None = None
    # whether the driver returns rows for it, learnt on the first execution: asking a cursor for
    # its description builds it anew each time (psycopg), and the answer never changes
    gives_rows: bool | None = None


def _dialect_key(dialect: Dialect) -> tuple[Any, ...]:
    return (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info)


class PreparedStatement:
    """A Core statement (on tables, not ORM entities) run with parameters on the driver."""

    def __init__(self, statement: Executable, *, column_keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.column_keys = list(column_keys) if column_keys is not None else None
        self._compiled: dict[tuple[Any, ...], _Compiled] = {}

    def _for(self, dialect: Dialect) -> _Compiled:
        key = _dialect_key(dialect)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(dialect)
        return compiled

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.column_keys)  # type: ignore[attr-defined]
        if compiled.positional:
            named = [(name, compiled.binds[name]) for name in compiled.positiontup]
        else:
            named = [(name, bind) for bind, name in compiled.bind_names.items()]
        binds = []
        for name, bind in named:
            if bind.expanding:
                raise ValueError("expanding (IN-list) parameters are not supported here")
            # The caller gives what was made with `bindparam(name)` and no value (and a bare
            # INSERT's columns); anything else is the statement's own constant (a literal, LIMIT).
            given = bind.required
            binds.append(
                (
                    compiled.escaped_bind_names.get(name, name),
                    bind.key if given else None,
                    None if given else bind.effective_value,
                    bind.type.dialect_impl(dialect).bind_processor(dialect),
                )
            )
        returned: tuple[Any, ...] = ()
        if isinstance(self.statement, ReturnsRows):
            returned = tuple(
                column.type.dialect_impl(dialect) for column in self.statement.exported_columns
            )
        return _Compiled(compiled.string, compiled.positional, tuple(binds), returned)

    def _parameters(self, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
        converted = []
        for _name, caller_key, constant, convert in compiled.binds:
            value = constant if caller_key is None else values[caller_key]
            converted.append(value if convert is None else convert(value))
        if compiled.positional:
            return converted
        return {name: value for (name, *_), value in zip(compiled.binds, converted, strict=True)}

    def execute(self, db: Session, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run once in the session's transaction; the rows it returns (none for a write without
        RETURNING), converted as the ORM would."""
        compiled, cursor, dialect = self._cursor(db)
        try:
            cursor.execute(compiled.sql, self._parameters(compiled, values))
            if compiled.gives_rows is None:
                compiled.gives_rows = cursor.description is not None
            rows = cursor.fetchall() if compiled.gives_rows else []
            if compiled.results is None and compiled.returned:
                converts = tuple(
                    kind.result_processor(dialect, described[1])
                    for kind, described in zip(compiled.returned, cursor.description, strict=True)
                )
                compiled.results = converts if any(converts) else ()
            if compiled.results and rows:
                rows = [
                    tuple(
                        value if convert is None else convert(value)
                        for convert, value in zip(compiled.results, row, strict=True)
                    )
                    for row in rows
                ]
            return rows
        finally:
            cursor.close()

    def change(self, db: Session, values: Mapping[str, Any]) -> int:
        """Run a write once in the session's transaction; how many rows it changed."""
        compiled, cursor, _ = self._cursor(db)
        try:
            cursor.execute(compiled.sql, self._parameters(compiled, values))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(self, db: Session, values: Sequence[Mapping[str, Any]]) -> None:
        """Run once per set of values (rows to insert), in the session's transaction."""
        if not values:
            return
        compiled, cursor, _ = self._cursor(db)
        try:
            if len(values) == 1:  # psycopg's executemany enters pipeline mode, for one row too
                cursor.execute(compiled.sql, self._parameters(compiled, values[0]))
            else:
                cursor.executemany(compiled.sql, [self._parameters(compiled, v) for v in values])
        finally:
            cursor.close()

    def _cursor(self, db: Session) -> tuple[_Compiled, Any, Dialect]:
        # Objects added to the session but not yet flushed would otherwise be missing (or
        # written after) a statement that expects them, as autoflush would have seen to.
        db.flush()
        connection = db.connection()  # begins the unit of work's transaction if not yet begun
        dialect = connection.dialect
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._for(dialect), cursor, dialect
