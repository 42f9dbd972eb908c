"""The database: engine creation, schema upgrades, and one transaction per unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from datastore import Database, open_engine

__all__ = [
    "Database",
    "alembic_config",
    "create_database_engine",
    "prepare_schema",
    "upgrade_schema",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_database_engine(url: str, *, pool_size: int = 10) -> Engine:
    return open_engine(url, pool_size=pool_size, max_overflow=20)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(url: str) -> None:
    """Bring the database at `url` to the newest migration (creating a SQLite file if needed)."""
    command.upgrade(alembic_config(url), "head")


@contextmanager
def prepare_schema(database: Database) -> Iterator[None]:
    """Upgrade the schema and run start-up writes while holding a lock other workers wait on.

    Several workers starting together against one PostgreSQL would otherwise race to create
    the same tables and load the same seeds; on SQLite the file lock already serialises them.
    """
    url = database.engine.url.render_as_string(hide_password=False)
    if database.engine.dialect.name != "postgresql":
        upgrade_schema(url)
        yield
        return
    with database.engine.connect() as connection:
        connection.exec_driver_sql("SELECT pg_advisory_lock(742026)")
        connection.commit()
        try:
            upgrade_schema(url)
            yield
        finally:
            connection.exec_driver_sql("SELECT pg_advisory_unlock(742026)")
            connection.commit()
