"""Write transactions for the emulators' tables, marked so SQLite takes its lock up front."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Connection, Engine


def write_transaction(engine: Engine) -> AbstractContextManager[Connection]:
    """A transaction that says it will write: the datastore's SQLite engines begin it with
    BEGIN IMMEDIATE (a reader upgraded mid-way could fail with SQLITE_BUSY); others ignore it.
    Reads use plain connections and never wait for writers."""
    return engine.execution_options(writer=True).begin()
