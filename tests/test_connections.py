"""Connections that never finish a request are closed: `agentic-checkout serve` as deployed, with
short limits set through its settings, and raw sockets that stall in each way a client can."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import free_port, wait_until_healthy
from tests.test_cli import CLEAN_ENV, CLI

pytestmark = pytest.mark.slow
# How long to wait for the server to hang up: far above the 1 s limits set below, so only a
# server that never closes fails (never a timing assertion on a loaded machine).
HANG_UP_WAIT_SECONDS = 45


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    directory = tmp_path_factory.mktemp("connections")
    port = free_port()
    log_path = directory / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port)],
            cwd=directory,
            env={
                **CLEAN_ENV,
                "DATABASE_URL": f"sqlite:///{Path(directory) / 'c.db'}",
                "LOAD_SEEDS": "false",
                "REQUEST_READ_TIMEOUT_SECONDS": "1",
                "KEEP_ALIVE_TIMEOUT_SECONDS": "1",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", process, log_path)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=30)


def hung_up(address: tuple[str, int], sent: bytes) -> bytes:
    """Send `sent`, then stall; return what the server said before it closed the connection."""
    with socket.create_connection(address, timeout=HANG_UP_WAIT_SECONDS) as connection:
        if sent:
            connection.sendall(sent)
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            pytest.fail(f"the server kept the connection open after {sent[:40]!r}")
        except ConnectionResetError:
            pass
        return received


def test_a_connection_that_never_sends_a_byte_is_closed(server: tuple[str, int]) -> None:
    hung_up(server, b"")


def test_a_request_whose_headers_stop_halfway_is_closed(server: tuple[str, int]) -> None:
    hung_up(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")


def test_a_request_whose_body_stops_coming_is_closed(server: tuple[str, int]) -> None:
    head = b"POST /checkout_sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    hung_up(server, head + b'Content-Length: 1000\r\n\r\n{"line_items": ')


def test_an_idle_keep_alive_connection_is_closed_after_its_response(
    server: tuple[str, int],
) -> None:
    answer = hung_up(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200")
