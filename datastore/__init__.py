"""Engines and units of work over SQLAlchemy, shared by checkout and the assistant.

Each service keeps its own schema and migrations; only the way a database is opened and a
transaction handed out is common. Knows nothing of commerce.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any, TypeVar, cast

import anyio
from pydantic_core import PydanticUndefined
from sqlalchemy import (
    BindParameter,
    Column,
    Connection,
    Engine,
    Table,
    bindparam,
    create_engine,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import (
    NO_VALUE,
    InstanceState,
    Mapper,
    make_transient,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlmodel import Session, SQLModel

from datastore.prepared import PreparedStatement

T = TypeVar("T")
R = TypeVar("R", bound=SQLModel)

__all__ = [
    "Database",
    "PreparedStatement",
    "Row",
    "columns_of",
    "empty_dict",
    "empty_list",
    "find_row",
    "get_row",
    "held_row",
    "id_binds",
    "insert_rows",
    "load_rows",
    "open_engine",
    "row_columns",
    "rows_for_ids",
    "run_blocking",
    "save_rows",
    "session_row",
]


# Default factories for JSON columns of SQLModel rows. Pydantic asks a default factory for its
# signature on every row built; a builtin's (`list`, `dict`) is parsed from its text each time,
# which cost up to 90 microseconds per field, a plain function's a few.
def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


class Row(SQLModel):
    """A table's row (subclassed with `table=True`), built from its field values directly.

    SQLModel builds a table row by setting each field through SQLAlchemy's attribute events and
    pydantic's `__setattr__`: 49 microseconds for a checkout session's 20 fields, measured on this
    project's rows. A new row has no history for those events to keep, so this puts the values
    and the other fields' defaults in the instance's dict (3 microseconds); the ORM writes a new
    row from that dict all the same. Table rows are not validated either way; a name that is not
    a field is an error here, where SQLModel ignores it.
    """

    def __init__(self, **values: Any) -> None:
        fields = _fields_of(type(self))
        unknown = values.keys() - fields.keys()
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {', '.join(sorted(unknown))}")
        state = self.__dict__
        for name, (default, factory) in fields.items():
            if name in values:
                state[name] = values[name]
            elif factory is not None:
                state[name] = factory()
            elif default is not PydanticUndefined:
                state[name] = default
        object.__setattr__(self, "__pydantic_fields_set__", set(values))


@cache
def _fields_of(entity: type[Row]) -> dict[str, tuple[Any, Callable[[], Any] | None]]:
    """Each field's default and default factory (a factory that takes no arguments)."""
    return {
        name: (field.default, cast(Callable[[], Any] | None, field.default_factory))
        for name, field in entity.model_fields.items()
    }


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off so that BEGIN can be chosen per unit of work.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers take the lock up front: a deferred transaction that upgrades to a writer can fail
    # with SQLITE_BUSY without waiting, which under concurrency means spurious errors.
    mode = "BEGIN IMMEDIATE" if connection.get_execution_options().get("writer") else "BEGIN"
    # Straight to the driver: every unit of work begins here, and SQLAlchemy's statement path
    # (events, result set-up) cost more than the BEGIN itself.
    connection.connection.driver_connection.execute(mode)


def open_engine(url: str, *, pool_size: int, max_overflow: int) -> Engine:
    """An engine for a SQLite file (WAL, writers first) or PostgreSQL; others get no pool."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15},
            pool_size=pool_size,
            max_overflow=max_overflow,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql"):
        return create_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
    return create_engine(url, poolclass=NullPool)


async def run_blocking(engine: Engine, work: Callable[..., T], *args: Any) -> T:
    """Blocking database work called from the event loop: inline on SQLite, on a worker thread
    on PostgreSQL.

    SQLite's work is a local file's, a fraction of a millisecond, and a process writes one
    transaction at a time anyway; handing each piece to a thread and back cost more than the
    work itself (a create went from 136 to 215 per second inline, in `./dev bench`). The price:
    while another process holds SQLite's write lock (a second worker, the CLI), the event loop
    waits with it, up to the busy timeout. PostgreSQL's work is a network round trip, which must
    not hold up the other requests on the loop.
    """
    if engine.dialect.name == "sqlite":
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args, limiter=_database_threads())


# How many threads of one process may run database work at once. The work is mostly Python
# (the ORM), which holds the GIL: more threads add no throughput, only a convoy in which every
# request waits on every other, so the slowest ones wait longest. Four leave room for the
# network round trips to overlap, and the limiter queues the rest first come, first served.
# Measured on PostgreSQL at c = 64 (`./dev bench --only c=64`, one worker, a loaded two-core
# machine): p99/p50 of a create 1.60 with anyio's default 40 threads, 1.37 with 8, 1.20 with 4,
# at the same throughput.
DATABASE_THREADS = 4


def _database_threads() -> anyio.CapacityLimiter:
    """The process's limiter for the running event loop (a limiter belongs to one loop)."""
    loop = asyncio.get_running_loop()
    limiter = _limiters.get(loop)
    if limiter is None:
        limiter = _limiters[loop] = anyio.CapacityLimiter(DATABASE_THREADS)
    return limiter


_limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
    weakref.WeakKeyDictionary()
)


class Database:
    """Hands out transactions; a unit of work commits once at the end or rolls back entirely."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writer = engine.execution_options(writer=True)
        # SQLite admits one writer at a time and makes the others poll with growing sleeps; a
        # lock in the process queues this process's writers fairly instead (other processes
        # still meet the busy timeout). PostgreSQL needs no such thing.
        self._write_lock: threading.Lock | None = (
            threading.Lock() if engine.dialect.name == "sqlite" else None
        )
        self._writer_connection: Connection | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self._write_lock is None:
            with Session(self._writer, expire_on_commit=False) as session, session.begin():
                yield session
            return
        with (
            self._write_lock,
            Session(self._sqlite_writer(), expire_on_commit=False) as session,
            session.begin(),  # BEGIN IMMEDIATE on the held connection; COMMIT or ROLLBACK
        ):
            yield session

    def _sqlite_writer(self) -> Connection:
        """The process's one SQLite writing connection, kept open (call under the write lock).

        Writers take turns under the lock, so they can share a connection instead of each taking
        one from the pool and giving it back (a checkout, and a rollback on return, per unit of
        work). A Session bound to it begins and ends its own transaction on it and leaves it
        open. One that was invalidated (its driver connection failed) is replaced.
        """
        connection = self._writer_connection
        if connection is None or connection.closed or connection.invalidated:
            connection = self._writer_connection = self._writer.connect()
        elif connection.in_transaction():
            # A Session would join a transaction already open and leave it uncommitted: one left
            # behind by a unit of work that failed to end is abandoned, never built on.
            connection.rollback()
        return connection

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Blocking database work called from the event loop (see `run_blocking`)."""
        return await run_blocking(self.engine, work, *args)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        if self._write_lock is not None:
            with self._write_lock:  # a unit of work still writing on it finishes first
                if self._writer_connection is not None:
                    self._writer_connection.close()
                    self._writer_connection = None
        self.engine.dispose()


# Reading a row by its key and writing new rows are most of what a request does. Session.get
# builds its SELECT and that statement's cache key on every call, and adding rows goes through
# the unit of work's flush; each cost several times what SQLite takes to run the statement
# (180-350 against 25-140 microseconds a statement, measured on SQLite). These build the
# statement once per table and run it with parameters.


def get_row(db: Session, entity: type[R], key: Any, *, for_update: bool = False) -> R | None:
    """The row with this primary key, as Session.get finds it; `for_update` locks it until the
    transaction ends and reads it afresh."""
    found = load_rows(db, _row_by_key(entity, for_update), {"key": key}, (entity,), for_update)
    return found[0][0] if found else None


def find_row(db: Session, entity: type[R], attribute: str, value: Any) -> R | None:
    """The first row whose `attribute` equals `value` (a column with one row per value), with
    its SELECT built once per entity and attribute, as `get_row`'s."""
    found = load_rows(db, _row_by(entity, attribute), {"value": value}, (entity,))
    return found[0][0] if found else None


def held_row(db: Session, entity: type[R], key: Any) -> R | None:
    """The session's own copy of the row with this primary key, if it holds one (no SQL): what
    a write on the driver must keep in step, as the ORM's UPDATE would have."""
    held: R | None = db.identity_map.get(_mapper(entity).identity_key_from_primary_key((key,)))
    return held


@cache
def _row_by(entity: type[SQLModel], attribute: str) -> PreparedStatement:
    where = getattr(entity, attribute) == bindparam("value")
    return PreparedStatement(select(*columns_of(entity)).where(where).limit(1))


@cache
def _row_by_key(entity: type[SQLModel], for_update: bool) -> PreparedStatement:
    (key_column,) = inspect(entity).primary_key
    statement = select(*columns_of(entity)).where(key_column == bindparam("key"))
    return PreparedStatement(statement.with_for_update() if for_update else statement)


def id_binds(count: int) -> list[BindParameter[Any]]:
    """Parameters `id_0`... for an IN list of `count` values: a `PreparedStatement` has no
    expanding parameters, so a statement with an IN list is built once per count of values
    and run by `rows_for_ids`."""
    return [bindparam(f"id_{n}") for n in range(count)]


def rows_for_ids(
    db: Session,
    statement_for: Callable[[int], PreparedStatement],
    ids: Sequence[Any],
    **values: Any,
) -> list[tuple[Any, ...]]:
    """The rows of a statement with an IN list of `ids`, built by `statement_for(len(ids))`
    with `id_binds`, and these other `values`; none for no ids."""
    if not ids:
        return []
    return statement_for(len(ids)).execute(
        db, values | {f"id_{n}": value for n, value in enumerate(ids)}
    )


def columns_of(*entities: type[SQLModel]) -> list[Column[Any]]:
    """The columns a SELECT names for `load_rows` to build these entities' rows from."""
    return [column for entity in entities for _, column in row_columns(entity)]


def load_rows(
    db: Session,
    statement: PreparedStatement,
    values: Mapping[str, Any],
    entities: Sequence[type[SQLModel]],
    refresh: bool = False,
) -> list[tuple[Any, ...]]:
    """Rows of `entities`, read by a prepared SELECT of their `columns_of`, as the session's own
    objects, the way a query of those entities gives them: one the session already holds is
    returned as it is (with `refresh`, with the values just read, as a locking read wants); a
    new one is added as a stored row, so changes to it are flushed as UPDATEs."""
    spans = _spans(tuple(entities))
    return [
        tuple(_in_session(db, entity, row[start:end], refresh) for entity, start, end in spans)
        for row in statement.execute(db, values)
    ]


@cache
def _spans(entities: tuple[type[SQLModel], ...]) -> tuple[tuple[type[SQLModel], int, int], ...]:
    spans, start = [], 0
    for entity in entities:
        width = len(row_columns(entity))
        spans.append((entity, start, start + width))
        start += width
    return tuple(spans)


def session_row(db: Session, entity: type[R], values: Sequence[Any]) -> R:
    """The session's own row for these values of its `columns_of`, read by a statement that
    also reads other things (as `load_rows` makes rows of a statement of entities alone)."""
    return _in_session(db, entity, values, refresh=False)


def _in_session(db: Session, entity: type[R], values: Sequence[Any], refresh: bool) -> R:
    identity = _mapper(entity).identity_key_from_primary_key(
        tuple(values[position] for position in _key_positions(entity))
    )
    held: R | None = db.identity_map.get(identity)
    if held is None:
        row = _loaded_row(entity, values)
        db.add(row)
        return row
    if refresh:
        for name, value in zip(_attribute_names(entity), values, strict=True):
            set_committed_value(held, name, value)
    return held


@cache
def _mapper(entity: type[SQLModel]) -> Mapper[Any]:
    return inspect(entity)


@cache
def _key_positions(entity: type[SQLModel]) -> tuple[int, ...]:
    keys = set(inspect(entity).primary_key)
    return tuple(n for n, (_, column) in enumerate(row_columns(entity)) if column in keys)


def insert_rows(db: Session, rows: Sequence[SQLModel]) -> None:
    """New rows of one table in one statement, outside the unit of work, then attached to the
    session as stored rows: later changes to them are flushed as UPDATEs, as for rows read.

    Only for rows whose every column value is set in Python (keys included): nothing the
    database generates is read back.
    """
    if not rows:
        return
    statement, attributes = _row_insert(type(rows[0]))
    statement.execute_many(
        db, [{column: getattr(row, name) for name, column in attributes} for row in rows]
    )
    for row in rows:
        make_transient_to_detached(row)
        db.add(row)


def save_rows(db: Session, rows: Sequence[SQLModel]) -> None:
    """Rows written now, outside the unit of work's flush: a new one is inserted (as by
    `insert_rows`), a stored one (read or written before) is updated by its key in the columns
    whose values changed since. Each is then a stored row with nothing left to flush, as a
    flush would leave it.

    What the ORM's UPDATE does and this keeps: only changed columns are written (a value set
    back to what it was is no change), and a row that is no longer there is an error
    (StaleDataError). A change of primary key is refused.
    """
    for row in rows:
        state: InstanceState[Any] = inspect(row)
        if state.key is None:
            if state.pending:
                db.expunge(row)
            insert_rows(db, [row])
            continue
        entity = type(row)
        changed = _changed(entity, state)
        if not changed:
            continue
        values = {f"set_{name}": state.dict[name] for name in changed}
        values.update({f"key_{n}": value for n, value in enumerate(state.key[1])})
        # The row is marked written before the UPDATE runs: the statement first flushes what
        # else is pending in the session, and this row must not be among it.
        make_transient(row)
        make_transient_to_detached(row)
        db.add(row)
        if _row_update(entity, changed).change(db, values) != 1:
            raise StaleDataError(f"{entity.__tablename__} row {state.key[1]} is no longer there")


def _changed(entity: type[SQLModel], state: InstanceState[Any]) -> tuple[str, ...]:
    before = state.committed_state
    if not before:
        return ()
    changed = tuple(
        name
        for name in _attribute_names(entity)
        if name in before
        and (before[name] is NO_VALUE or state.dict.get(name, NO_VALUE) != before[name])
    )
    if changed and set(changed) & _key_names(entity):
        raise ValueError(f"the primary key of a {entity.__name__} is not changed in place")
    return changed


@cache
def _key_names(entity: type[SQLModel]) -> frozenset[str]:
    return frozenset(_attribute_names(entity)[n] for n in _key_positions(entity))


# One statement per table and set of changed columns; a table is changed in a few ways only.
@lru_cache(maxsize=256)
def _row_update(entity: type[SQLModel], names: tuple[str, ...]) -> PreparedStatement:
    mapper = _mapper(entity)
    table: Table = inspect(entity).local_table
    columns = dict(row_columns(entity))
    statement = (
        update(table)
        .where(*(key == bindparam(f"key_{n}") for n, key in enumerate(mapper.primary_key)))
        .values({columns[name]: bindparam(f"set_{name}") for name in names})
    )
    return PreparedStatement(statement)


@cache
def row_columns(entity: type[SQLModel]) -> tuple[tuple[str, Column[Any]], ...]:
    """(attribute, column) for each of an entity's own table columns, in the mapper's order."""
    mapper = inspect(entity)
    table: Table = mapper.local_table
    return tuple(
        (prop.key, prop.columns[0])
        for prop in mapper.column_attrs
        if prop.columns[0].table is table
    )


def _loaded_row(entity: type[R], values: Sequence[Any]) -> R:
    """A row as a query loads it, from its column values in `row_columns` order (converted by
    their types, as a `PreparedStatement` returns them), detached until added to a session."""
    row: R = _mapper(entity).class_manager.new_instance()
    row.__dict__.update(zip(_attribute_names(entity), values, strict=True))
    make_transient_to_detached(row)
    return row


@cache
def _attribute_names(entity: type[SQLModel]) -> tuple[str, ...]:
    return tuple(name for name, _ in row_columns(entity))


@cache
def _row_insert(entity: type[SQLModel]) -> tuple[PreparedStatement, tuple[tuple[str, str], ...]]:
    table: Table = inspect(entity).local_table
    attributes = tuple((name, column.key) for name, column in row_columns(entity))
    columns = [column for _, column in attributes]
    return PreparedStatement(table.insert(), column_keys=columns), attributes
