"""Alembic environment for the assistant's tables only, with a version table of their own."""

from alembic import context
from sqlalchemy import create_engine, pool

from assistant.store.db import VERSION_TABLE
from assistant.store.rows import AssistantTable

config = context.config
target_metadata = AssistantTable.metadata


def include_name(name: str | None, type_: str, _parents: object) -> bool:
    # Checkout's tables share the database; autogenerate must neither see nor drop them.
    return type_ != "table" or bool(name and name.startswith("assistant_"))


def run_migrations() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=VERSION_TABLE,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
