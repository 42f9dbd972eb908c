"""Write transactions for the emulators' tables, marked so SQLite takes its lock up front."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import anyio
from sqlalchemy import Connection, Engine

T = TypeVar("T")


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that says it will write: the datastore's SQLite engines begin it with
    BEGIN IMMEDIATE (a reader upgraded mid-way could fail with SQLITE_BUSY); others ignore it.
    Reads use plain connections and never wait for writers."""
    return engine.execution_options(writer=True).begin()


async def run_blocking(engine: Engine, work: Callable[..., T], *args: Any) -> T:
    """An emulator's database work from an async route: inline on SQLite, on a worker thread on
    PostgreSQL. SQLite's work is a local file's and short; a thread hop per call, with the
    GIL changing hands twice, cost more than the work (Etsy-style purchases in `./dev bench`
    went from 15 to 22 per second inline). PostgreSQL's is a network round trip that must not
    hold up the event loop."""
    if engine.dialect.name == "sqlite":
        return work(*args)
    return await anyio.to_thread.run_sync(work, *args)
