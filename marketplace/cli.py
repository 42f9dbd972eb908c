"""The `agentic-checkout` command: serve the platform, play the demo, manage the database.

Each command imports what it needs when it runs: `--help` stays quick, and so does each uvicorn
worker, which re-imports this module before it loads the app.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.demo import DemoResult
    from checkout.settings import Settings

# The Stripe demo keeps its merchants (and their connected accounts) between runs.
STRIPE_DEMO_DATABASE = "sqlite:///./agentic_checkout_stripe_demo.db"

cli = typer.Typer(help="Agentic commerce checkout platform (ACP 2026-04-17).", no_args_is_help=True)
db_cli = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db_cli, name="db")


def _configure_logging(level: str = "INFO", json_lines: bool = False) -> None:
    import logging.config

    from checkout.logs import logging_config

    logging.config.dictConfig(logging_config(level, json_lines))


def _checked_settings(**values: Any) -> Settings:
    """The settings, or one line per configuration mistake and exit status 2."""
    from pydantic import ValidationError

    from checkout.preflight import problems, validation_lines
    from checkout.settings import Settings

    try:
        settings = Settings(**values)
    except ValidationError as exc:
        found = validation_lines(exc)
    else:
        found = problems(settings)
        if not found and settings.payment_provider == "stripe":
            import asyncio

            from checkout.preflight import stripe_key_refused

            refused = asyncio.run(stripe_key_refused(settings))
            found = [refused] if refused else []
    for line in found:
        typer.echo(f"configuration error: {line}", err=True)
    if found:
        raise typer.Exit(2)
    return settings


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (PostgreSQL for more than one).")
    ] = 1,
) -> None:
    """Serve the checkout API (the embedded default needs no configuration)."""
    import uvicorn

    from checkout.logs import logging_config
    from checkout.serving import READ_TIMEOUT_VARIABLE, server_options

    settings = _checked_settings()
    json_lines = settings.log_format == "json"
    _configure_logging(settings.log_level, json_lines)
    log = logging.getLogger("checkout")
    for default in settings.defaults_in_use():
        log.info("settings.default %s", default)
    if workers > 1 and settings.is_sqlite:
        log.warning(
            "settings.sqlite_workers SQLite serialises writes; use PostgreSQL for several workers"
        )
    log.info("serve.listening url=http://%s:%d docs=http://%s:%d/docs", host, port, host, port)
    os.environ[READ_TIMEOUT_VARIABLE] = str(settings.request_read_timeout_seconds)
    uvicorn.run(
        "marketplace.composition:create_platform_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # Applied again in every worker process, so each one's records are written.
        log_config=logging_config(settings.log_level, json_lines),
        log_level=settings.log_level.lower(),
        access_log=False,
        **server_options(
            keep_alive_seconds=settings.keep_alive_timeout_seconds,
            worker_start_seconds=settings.worker_start_timeout_seconds,
        ),
    )


@cli.command()
def demo(
    url: Annotated[
        str | None,
        typer.Option(
            help="Run against a stack already serving here (default: start one in-process)."
        ),
    ] = None,
    stripe: Annotated[
        bool,
        typer.Option(
            "--stripe",
            help="One purchase in Stripe test mode (STRIPE_SECRET_KEY=sk_test_...) through a "
            "connected account, printing the PaymentIntent, application fee and transfer.",
        ),
    ] = False,
) -> None:
    """Play a whole shopping conversation: a search, a refinement, a purchase from each demo
    merchant, a declined card and a retry; print the transcript, the orders and the commission."""
    import asyncio

    logging.basicConfig(level=logging.WARNING)
    if stripe:
        _stripe_demo()
        return
    result = asyncio.run(_run_demo(url))
    if result.commission:
        typer.echo(
            f"commission earned by the platform: {result.commission['display']} "
            f"({result.commission['basis']})"
        )


def _stripe_demo() -> None:
    import asyncio

    from pydantic import ValidationError

    from checkout.settings import Settings

    # The key is checked before the demo's imports (the whole app), so a missing one is said at once.
    try:
        settings = Settings(
            payment_provider="stripe",
            database_url=os.environ.get("DATABASE_URL", STRIPE_DEMO_DATABASE),
            background_jobs=False,
        )
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        typer.echo(f"demo --stripe needs a Stripe test key: {message}", err=True)
        raise typer.Exit(2) from exc
    if not (settings.stripe_secret_key or "").startswith("sk_test_"):
        typer.echo("demo --stripe runs in test mode only: use an sk_test_ key.", err=True)
        raise typer.Exit(2)
    from checkout.stripe_demo import DemoStopped, run_stripe_demo

    try:
        asyncio.run(run_stripe_demo(settings, typer.echo))
    except DemoStopped as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


async def _run_demo(url: str | None) -> DemoResult:
    import tempfile
    from pathlib import Path

    import anyio
    import httpx

    from assistant.demo import run_demo
    from checkout.settings import Settings
    from marketplace.composition import INTERNAL_BASE_URL, create_platform_app

    if url is not None:
        result = await run_demo(url)
        result.commission = await _commission_over_http(url, result)
        return result
    with tempfile.TemporaryDirectory(prefix="agentic-checkout-demo-") as workdir:
        settings = Settings(database_url=f"sqlite:///{Path(workdir) / 'demo.db'}")
        app = create_platform_app(settings)
        async with app.router.lifespan_context(app):
            result = await run_demo(INTERNAL_BASE_URL, transport=httpx.ASGITransport(app=app))
            result.commission = await anyio.to_thread.run_sync(_commission, app, result)
        return result


async def _commission_over_http(url: str, result: DemoResult) -> dict[str, object] | None:
    """The same commission line for a stack served elsewhere, read from each merchant's order
    list with the operator key (OPERATOR_API_KEY, the demo's by default)."""
    import httpx

    from checkout.domain.money import format_amount
    from checkout.settings import DEMO_OPERATOR_API_KEY

    key = os.environ.get("OPERATOR_API_KEY", DEMO_OPERATOR_API_KEY)
    wanted = {order.order_id for order in result.orders}
    commission = net = 0
    currency = "usd"
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as http:
        for merchant_id in sorted({order.merchant_id for order in result.orders}):
            answer = await http.get(f"/merchants/{merchant_id}/orders", params={"limit": 200})
            if answer.status_code != 200:
                typer.echo(
                    f"commission: not shown ({answer.status_code} from the order list; "
                    "set OPERATOR_API_KEY to the stack's operator key)",
                    err=True,
                )
                return None
            for order in answer.json()["orders"]:
                if order["id"] in wanted:
                    money = order["money"]
                    commission += money["commission"]
                    net += money["commission"] - money["processor_fee"]
                    currency = order["currency"]
    return {
        "amount": commission,
        "net": net,
        "currency": currency,
        "display": format_amount(commission, currency),
        "basis": "each order's commission under its merchant's terms, before tax, as the "
        f"stack's ledger booked it; {format_amount(net, currency)} after the card processing "
        "fees the platform pays",
    }


def _commission(app: FastAPI, result: DemoResult) -> dict[str, object]:
    """The platform's commission on the demo's orders, and what it nets after the card
    processing fees it pays, as the ledger recorded them."""
    from checkout.domain.money import format_amount
    from checkout.store.ledger import Ledger
    from checkout.store.orders import Orders

    services = app.state.services
    commission = net = 0
    currency = "usd"
    with services.database.read() as db:
        for placed in result.orders:
            order = Orders(db).get(placed.order_id)
            if order is None:
                continue
            for entry in Ledger(db).entries(order.merchant_id):
                if entry.order_id == order.id and entry.account == "platform":
                    net += entry.amount
                    commission += entry.amount if entry.kind == "commission" else 0
            currency = order.currency
    return {
        "amount": commission,
        "net": net,
        "currency": currency,
        "display": format_amount(commission, currency),
        "basis": "the ledger: each order's commission under its merchant's terms, before tax; "
        f"{format_amount(net, currency)} after the card processing fees the platform pays",
    }


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations to DATABASE_URL."""
    from checkout.store.db import upgrade_schema

    _configure_logging()
    settings = _checked_settings()
    upgrade_schema(settings.database_url)
    typer.echo(f"database at head: {settings.database_url.split('@')[-1]}")


ucp_cli = typer.Typer(help="Universal Commerce Protocol (UCP) merchants.", no_args_is_help=True)
cli.add_typer(ucp_cli, name="ucp")


@ucp_cli.command("load-merchant")
def ucp_load_merchant(
    directory: Annotated[str, typer.Argument(help="Folder of products.csv, inventory.csv, ...")],
    merchant_id: Annotated[str, typer.Option(help="The merchant's id (UCP_MERCHANT_ID).")],
    name: Annotated[str, typer.Option(help="The shop's name.")] = "Flower Shop",
    currency: Annotated[str, typer.Option(help="ISO 4217 currency of the prices.")] = "USD",
    country: Annotated[str, typer.Option(help="The merchant's country.")] = "US",
    collect_tax: Annotated[
        bool, typer.Option(help="Add sales tax to the listed prices (the format's are final).")
    ] = False,
) -> None:
    """Load (or reload) a merchant from a UCP data folder, the way an operator loads a feed:
    products and stock, shipping rates and promotions, discount codes, known buyers' addresses."""
    import asyncio
    from pathlib import Path

    from checkout.api.services import utc_now
    from checkout.app import _payments
    from checkout.flows.load_merchant_directory import load_merchant_directory
    from checkout.settings import Settings
    from checkout.store.db import Database, create_database_engine, upgrade_schema

    _configure_logging()
    settings = Settings()
    upgrade_schema(settings.database_url)
    database = Database(create_database_engine(settings.database_url))
    payments = _payments(settings)
    try:
        counts = asyncio.run(
            load_merchant_directory(
                database,
                payments.accounts,
                Path(directory),
                merchant_id=merchant_id,
                name=name,
                currency=currency,
                country=country,
                commission_bps=settings.commission_bps,
                collects_tax=collect_tax,
                clock=utc_now,
            )
        )
    finally:
        database.dispose()
    typer.echo(
        f"merchant {merchant_id}: {counts.products} products, {counts.discount_codes} discount "
        f"codes, {counts.shipping_rates} shipping rates, {counts.addresses} saved addresses"
    )


def main() -> None:
    cli()
