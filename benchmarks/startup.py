"""Start-up time: `agentic-checkout --help`, importing the served app, and `serve --workers N` until
every worker has finished its start-up (on a fresh SQLite file, or DATABASE_URL if given).

Usage: python -m benchmarks.startup [--runs 5] [--workers 2] [--database-url postgresql+psycopg://...]
Prints the median and the range of each, in seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.servers import free_port

CLI = str(Path(sys.executable).parent / "agentic-checkout")


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=tempfile.gettempdir())
    return time.perf_counter() - started


def serve_until_ready(workers: int, database_url: str | None) -> float:
    with tempfile.TemporaryDirectory() as directory:
        url = database_url or f"sqlite:///{directory}/startup.db"
        log_path = Path(directory) / "serve.log"
        started = time.perf_counter()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [CLI, "serve", "--workers", str(workers), "--port", str(free_port())],
                env={**os.environ, "DATABASE_URL": url},
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            while log_path.read_text(errors="replace").count("startup complete") < workers:
                if process.poll() is not None:
                    raise RuntimeError(log_path.read_text()[-2000:])
                time.sleep(0.05)
            return time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(timeout=60)


def report(name: str, samples: list[float]) -> None:
    print(
        f"{name:<40} median {statistics.median(samples):6.2f} s  "
        f"(min {min(samples):.2f}, max {max(samples):.2f}, n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    options = parser.parse_args()
    report("agentic-checkout --help", [timed([CLI, "--help"]) for _ in range(options.runs)])
    importing = [sys.executable, "-c", "import marketplace.composition"]
    report("import marketplace.composition", [timed(importing) for _ in range(options.runs)])
    report(
        f"serve --workers {options.workers} until ready",
        [serve_until_ready(options.workers, options.database_url) for _ in range(options.runs)],
    )


if __name__ == "__main__":
    main()
