"""Engines and units of work over SQLAlchemy, shared by checkout and the assistant.

Each service keeps its own schema and migrations; only the way a database is opened and a
transaction handed out is common. Knows nothing of commerce.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool
from sqlmodel import Session

T = TypeVar("T")

__all__ = ["Database", "empty_dict", "empty_list", "open_engine", "run_blocking"]


# Default factories for JSON columns of SQLModel rows. Pydantic asks a default factory for its
# signature on every row built; a builtin's (`list`, `dict`) is parsed from its text each time,
# which cost up to 90 microseconds per field, a plain function's a few.
def empty_list() -> list[Any]:
    return []


def empty_dict() -> dict[str, Any]:
    return {}


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
    connection.exec_driver_sql(mode)


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
    return await anyio.to_thread.run_sync(work, *args)


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
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """Blocking database work called from the event loop (see `run_blocking`)."""
        return await run_blocking(self.engine, work, *args)

    @contextmanager
    def read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
