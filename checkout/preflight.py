"""Configuration mistakes found before serving, each said in one line with how to fix it.

A wrong DATABASE_URL, a CREDENTIALS_KEY that is not a Fernet key, a Stripe key of the wrong
kind or a seed directory with no shops would otherwise surface deep inside start-up as a long
traceback; `problems(settings)` names them first, and the command line stops on them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from checkout.settings import Settings

FERNET_HINT = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)


def database_problem(url: str) -> str | None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"DATABASE_URL '{_shown(url)}' is not a database URL; use sqlite:///./file.db or postgresql+psycopg://user:password@host:5432/name"
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        return (
            f"DATABASE_URL starts with '{parsed.drivername}://', which needs a driver this project "
            "does not use; write postgresql+psycopg://… instead"
        )
    if parsed.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        return f"DATABASE_URL '{parsed.drivername}://…' is not supported; use sqlite:/// or postgresql+psycopg://"
    return None


def _shown(url: str) -> str:
    """The URL without its password, to be printed."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{credentials.split(':')[0]}:***{at}{host}" if at else url[:80]


def credentials_key_problem(key: str) -> str | None:
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return (
            f"CREDENTIALS_KEY is not a Fernet key (32 url-safe base64-encoded bytes); {FERNET_HINT}"
        )
    return None


def stripe_key_problem(settings: Settings) -> str | None:
    if settings.payment_provider != "stripe":
        return None
    key = settings.stripe_secret_key or ""
    if not key.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
        return (
            "STRIPE_SECRET_KEY should be a secret key (sk_test_… or sk_live_…); a publishable "
            "key (pk_…) or anything else cannot charge"
        )
    return None


def seeds_problem(settings: Settings) -> str | None:
    if not (settings.load_seeds and settings.sandboxes_on):
        return None
    directory = Path(settings.seeds_dir)
    if not directory.is_dir():
        return f"SEEDS_DIR={directory} does not exist; point it at the seed shops, or set LOAD_SEEDS=false"
    if not any(directory.glob("*.json")):
        return f"SEEDS_DIR={directory} has no seed shops (*.json); point it at them, or set LOAD_SEEDS=false"
    return None


def problems(settings: Settings) -> list[str]:
    found = [
        database_problem(settings.database_url),
        credentials_key_problem(settings.credentials_key),
        stripe_key_problem(settings),
        seeds_problem(settings),
    ]
    return [problem for problem in found if problem]


def validation_lines(error: ValidationError) -> list[str]:
    """Settings that failed validation, one line each, named as their environment variables."""
    lines = []
    for item in error.errors():
        name = "_".join(str(p) for p in item.get("loc", ())).upper()
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        lines.append(f"{name}: {message}" if name else message)
    return lines


async def stripe_key_refused(settings: Settings) -> str | None:
    """Ask Stripe once whether it takes the key (its balance, which every key may read).

    Only a refusal is a problem: an unreachable Stripe is left for the service to retry, so a
    machine that is briefly offline still starts.
    """
    if settings.payment_provider != "stripe" or not settings.stripe_secret_key:
        return None
    import stripe

    from checkout.payments.stripe_sdk import stripe_client

    http = stripe.HTTPXClient(timeout=10, allow_sync_methods=False)
    client = stripe_client(
        settings.stripe_secret_key,
        api_base=settings.stripe_api_base,
        max_network_retries=0,
        timeout_seconds=10,
        http_client=http,
    )
    try:
        await client.v1.balance.retrieve_async()
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        return (
            f"STRIPE_SECRET_KEY was refused by Stripe ({exc.user_message or 'invalid API key'}); "
            "copy the secret key from the Stripe dashboard's API keys page"
        )
    except stripe.StripeError:
        return None
    finally:
        await http.close_async()  # type: ignore[no-untyped-call]
    return None
