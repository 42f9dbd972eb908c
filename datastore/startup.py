"""Start-up work (migrations, seeds, onboarding) done by one worker at a time across processes and hosts.

Several workers, or several instances, starting against one database would otherwise race to
create the same tables and insert the same rows. Whoever takes the lock first does the work; the
others wait for it and then find nothing left to do.
"""

from __future__ import annotations

import logging
import zlib
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import Connection, Engine

__all__ = ["StartupLock"]

log = logging.getLogger("datastore.startup")


class StartupLock:
    """PostgreSQL: a session-level advisory lock (every host sees it). A SQLite file: an exclusive
    `flock` on a file beside it (every process on the machine sees it). Anything else: no lock.

    Blocking; use it from a thread in async code.
    """

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        # Advisory lock keys are 64-bit integers; a stable one per name keeps locks apart.
        self.key = zlib.crc32(f"startup:{name}".encode())
        self._connection: Connection | None = None
        self._file: IO[bytes] | None = None

    def acquire(self) -> None:
        if self.engine.dialect.name == "postgresql":
            self._acquire_advisory()
        elif self.engine.dialect.name == "sqlite":
            self._acquire_file()

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None
        if self._file is not None:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> StartupLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def _acquire_advisory(self) -> None:
        connection = self.engine.connect()
        try:
            taken = connection.exec_driver_sql(f"SELECT pg_try_advisory_lock({self.key})").scalar()
            if not taken:
                log.info("startup.waiting lock=%s (another worker is starting)", self.name)
                connection.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
            connection.commit()
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    def _acquire_file(self) -> None:
        database = self.engine.url.database
        if not database or database == ":memory:":
            return
        try:
            import fcntl
        except ImportError:  # not POSIX: SQLite's own locking is all there is
            return
        handle = Path(f"{database}.startup-lock").open("ab")  # noqa: SIM115 (held until release)
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("startup.waiting lock=%s (another worker is starting)", self.name)
                fcntl.flock(handle, fcntl.LOCK_EX)
        except BaseException:
            handle.close()
            raise
        self._file = handle
