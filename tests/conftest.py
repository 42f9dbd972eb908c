"""Fixtures: an app per test on its own SQLite file (or a clean PostgreSQL database), and an agent."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from checkout.app import create_app
from checkout.settings import Settings
from checkout.store.db import upgrade_schema
from tests.support import AGENT_KEY, CATALOG_IDS, OPERATOR_KEY, Agent

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


def _postgres_reachable() -> str | None:
    if not POSTGRES_URL:
        return "TEST_POSTGRES_URL is not set"
    try:
        engine = create_engine(POSTGRES_URL)
        with engine.connect():
            pass
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at TEST_POSTGRES_URL is not reachable: {exc.__class__.__name__}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database as a first start leaves it: migrated, the demo shops onboarded through the
    platform sandboxes and synced. Copied for each test, since building it takes seconds."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    with TestClient(create_app(make_settings(url))):
        pass
    engine = create_engine(url)
    with engine.connect() as connection:
        CATALOG_IDS.update(dict(connection.execute(text("SELECT sku, id FROM variants")).all()))
    engine.dispose()
    return path


@contextmanager
def new_postgres_database(prefix: str = "acp_test") -> Iterator[str]:
    """An empty database of its own on the PostgreSQL server (skips without one), dropped after."""
    reason = _postgres_reachable()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    assert POSTGRES_URL is not None
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own on the PostgreSQL server, for this test process, dropped at the end."""
    with new_postgres_database() as url:
        upgrade_schema(url)
        yield url


def _reset_postgres(url: str) -> None:
    """Empty every table (migrations stay applied), then start once to onboard the demo shops."""
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = [
            row[0]
            for row in connection.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT LIKE '%alembic_version'"
                )
            )
        ]
        connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()
    with TestClient(create_app(make_settings(url))):
        pass


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest) -> str:
    """SQLite unless a test asks for both with `@both_backends` (tests/support.py)."""
    return str(request.param)


@pytest.fixture
def database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    if backend == "postgres":
        url: str = request.getfixturevalue("postgres_database")
        _reset_postgres(url)
        return url
    path = tmp_path / "checkout.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "agent_api_key": AGENT_KEY,
        "operator_api_key": OPERATOR_KEY,
        "order_webhook_secret": "whsec_test_secret",
        "seeds_dir": SEEDS,
        "background_jobs": False,
        "public_base_url": "http://checkout.test",
        "platform_max_retry_wait_seconds": 1.0,
        "merchant_sandbox": True,  # on PostgreSQL too: the tests buy from the demo platforms
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def agent(client: TestClient) -> Agent:
    return Agent(client)


# The fast lane, `./dev test -m fast`: the domain, the protocol, and the adapters against respx
# or their in-process emulators. A test that builds the platform (its database, app or a server)
# is not fast, nor is one marked slow, postgres or stripe_live; everything else is, by default.
BUILDS_THE_PLATFORM = frozenset(
    {
        "database_url",
        "settings",
        "client",
        "agent",
        "stack",
        "shopper",
        "sqlite_template",
        "postgres_database",
        "backend",
    }
)
NOT_FAST_MARKS = ("slow", "postgres", "stripe_live")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if any(item.get_closest_marker(mark) for mark in NOT_FAST_MARKS):
            continue
        if BUILDS_THE_PLATFORM & set(getattr(item, "fixturenames", ())):
            continue
        item.add_marker(pytest.mark.fast)
