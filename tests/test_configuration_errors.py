"""Configuration mistakes as a newcomer makes them: one clear line each and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checkout.preflight import problems
from checkout.settings import Settings

CLI = str(Path(sys.executable).parent / "agentic-checkout")
CLEAN_ENV = {
    k: v
    for k, v in os.environ.items()
    if not k.startswith(("DATABASE_", "STRIPE_", "PAYMENT_", "SEEDS_", "CREDENTIALS_", "LOAD_"))
}


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        cwd=tmp_path,
        env={**CLEAN_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"DATABASE_URL": "postgres://app:secret@localhost/shop"}, "postgresql+psycopg://"),
        ({"DATABASE_URL": "postgresql://app:secret@localhost/shop"}, "postgresql+psycopg://"),
        ({"CREDENTIALS_KEY": "not-a-fernet-key"}, "Fernet.generate_key()"),
        ({"PAYMENT_PROVIDER": "stripe", "STRIPE_SECRET_KEY": "pk_test_123"}, "STRIPE_SECRET_KEY"),
        ({"PAYMENT_PROVIDER": "stripe"}, "STRIPE_SECRET_KEY"),
        ({"SEEDS_DIR": "/nonexistent/seeds"}, "SEEDS_DIR=/nonexistent/seeds does not exist"),
    ],
)
def test_serve_names_the_mistake_in_one_line_and_exits_non_zero(
    tmp_path: Path, env: dict[str, str], said: str
) -> None:
    done = run(tmp_path, "serve", "--port", "8799", **env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("configuration error: ") and said in line
    assert "secret" not in line  # a password in the URL is never printed


@pytest.mark.slow
def test_a_port_out_of_range_is_refused_not_replaced(tmp_path: Path) -> None:
    done = run(tmp_path, "serve", "--port", "70000")
    assert done.returncode == 2
    assert "65535" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_the_stripe_demo_says_at_once_that_no_key_is_set(tmp_path: Path) -> None:
    done = run(tmp_path, "demo", "--stripe")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "demo --stripe needs a Stripe test key: "
        "PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY (sk_test_...)"
    ]


def test_an_empty_seed_directory_is_an_error(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}", seeds_dir=tmp_path)
    [problem] = problems(settings)
    assert "has no seed shops" in problem
    assert problems(settings.model_copy(update={"load_seeds": False})) == []


def test_the_default_configuration_has_no_problem(tmp_path: Path) -> None:
    assert problems(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}")) == []


API = "https://api.stripe.com"


def stripe_settings(tmp_path: Path, key: str) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        payment_provider="stripe",
        stripe_secret_key=key,
    )


@pytest.mark.anyio
async def test_a_stripe_key_that_stripe_refuses_is_one_line(tmp_path: Path) -> None:
    import httpx
    import respx

    from checkout.preflight import stripe_key_refused

    with respx.mock(base_url=API) as stripe_api:
        stripe_api.get("/v1/balance").mock(
            return_value=httpx.Response(
                401,
                json={
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided: sk_test_****nope",
                    }
                },
            )
        )
        said = await stripe_key_refused(stripe_settings(tmp_path, "sk_test_nope"))
    assert said is not None and said.startswith("STRIPE_SECRET_KEY was refused by Stripe")


@pytest.mark.anyio
async def test_an_unreachable_stripe_does_not_stop_the_start(tmp_path: Path) -> None:
    import httpx
    import respx

    from checkout.preflight import stripe_key_refused

    with respx.mock(base_url=API) as stripe_api:
        stripe_api.get("/v1/balance").mock(side_effect=httpx.ConnectError("offline"))
        assert await stripe_key_refused(stripe_settings(tmp_path, "sk_test_fine")) is None
        stripe_api.get("/v1/balance").mock(
            return_value=httpx.Response(200, json={"object": "balance", "available": []})
        )
        assert await stripe_key_refused(stripe_settings(tmp_path, "sk_test_fine")) is None
