"""The database: engine creation, schema upgrades, and one transaction per unit of work."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from datastore import Database, open_engine
from datastore.startup import StartupLock

__all__ = [
    "Database",
    "alembic_config",
    "create_database_engine",
    "startup_lock",
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


def startup_lock(database: Database) -> StartupLock:
    """The lock a starting worker holds while it migrates, seeds and onboards (see datastore)."""
    return StartupLock(database.engine, "checkout")
