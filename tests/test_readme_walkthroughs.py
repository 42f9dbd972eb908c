"""The README's walkthroughs, run as written against a served process, each one twice.

A newcomer copies them into a shell: they must work on a fresh database and again after that.
Only the address changes (the test serves on a free port instead of 8000).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_healthy

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parent.parent / "README.md"
CLI = str(Path(sys.executable).with_name("agentic-checkout"))


def block_after(heading: str, *, nth: int = 0) -> str:
    """The nth ```sh block after a heading or sentence of the README."""
    text = README.read_text(encoding="utf-8")
    start = text.index(heading)
    blocks = re.findall(r"```sh\n(.*?)```", text[start:], flags=re.S)
    return str(blocks[nth])


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("readme")
    port = free_port()
    log_path = workdir / "serve.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "STRIPE_", "PAYMENT_", "OPENAI_", "OPERATOR_", "AGENT_"))
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process, log_path)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=60)


def run_shell(script: str, base_url: str, cwd: Path) -> str:
    port = base_url.rsplit(":", 1)[1]
    script = script.replace("localhost:8000", f"localhost:{port}").replace(
        "http://127.0.0.1:8000", base_url
    )
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


def test_the_curl_purchase_works_again_and_again(base_url: str, tmp_path: Path) -> None:
    script = block_after("## A purchase with curl")
    for _ in range(2):
        output = run_shell(script, base_url, tmp_path).strip().splitlines()
        assert output[0].startswith("('ready_for_payment'"), output
        assert output[-1].startswith("('completed', {'id': 'ord_"), output


def test_talking_to_the_assistant_buys_each_time(base_url: str, tmp_path: Path) -> None:
    script = block_after("## Talking to the assistant")
    for _ in range(2):
        output = run_shell(script, base_url, tmp_path)
        assert "placed" in output, output


def test_onboarding_a_shop_and_a_feed_from_the_readme(base_url: str, tmp_path: Path) -> None:
    script = block_after("A shop of your own, onboarded through the sandbox")
    for _ in range(2):
        output = run_shell(script, base_url, tmp_path)
        assert "active 12 products" in output, output
        assert '"created":1' in output.replace(" ", ""), output


def test_the_demo_against_a_running_stack_prints_the_commission(base_url: str) -> None:
    done = subprocess.run(
        [CLI, "demo", "--url", base_url], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "commission earned by the platform: $" in done.stdout
