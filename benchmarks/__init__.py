"""Load and latency benchmarks; run with `./dev bench` (never timed assertions inside pytest)."""
