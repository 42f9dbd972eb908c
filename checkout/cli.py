"""The `agentic-checkout` command: serve the platform, and manage its database."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
import uvicorn

from checkout.settings import Settings
from checkout.store.db import upgrade_schema

cli = typer.Typer(help="Agentic commerce checkout platform (ACP 2026-04-17).", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (PostgreSQL for more than one).")
    ] = 1,
) -> None:
    """Serve the checkout API (the embedded default needs no configuration)."""
    _configure_logging()
    settings = Settings()
    log = logging.getLogger("checkout")
    for default in settings.defaults_in_use():
        log.info("settings.default %s", default)
    if workers > 1 and settings.is_sqlite:
        log.warning(
            "settings.sqlite_workers SQLite serialises writes; use PostgreSQL for several workers"
        )
    log.info("serve.listening url=http://%s:%d docs=http://%s:%d/docs", host, port, host, port)
    uvicorn.run(
        "checkout.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
    )


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL."""
    _configure_logging()
    settings = Settings()
    upgrade_schema(settings.database_url)
    typer.echo(f"database at head: {settings.database_url.split('@')[-1]}")


def main() -> None:
    cli()
