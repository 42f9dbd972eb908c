"""The assistant's database: engine, its own Alembic history, and one transaction per unit of work.

The assistant may share checkout's database file; its migrations keep their own version table
(`assistant_alembic_version`) and touch only `assistant_` tables, so the two histories coexist.
"""

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
    "create_engine_for",
    "upgrade_schema",
    "upgrade_schema_once",
]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "assistant_alembic_version"


def create_engine_for(url: str) -> Engine:
    return open_engine(url, pool_size=5, max_overflow=10)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_schema(url: str) -> None:
    """Bring the assistant's tables at `url` to the newest migration."""
    command.upgrade(alembic_config(url), "head")


def upgrade_schema_once(database: Database, url: str) -> None:
    """Upgrade while holding the start-up lock, so workers starting together migrate one by one."""
    with StartupLock(database.engine, "assistant"):
        upgrade_schema(url)
