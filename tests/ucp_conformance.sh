#!/usr/bin/env bash
# The official UCP conformance suite (../shared/ucp/conformance, see its SOURCE.md) against this
# service: load the flower-shop merchant with the documented command, serve, run every *_test.py
# in the suite's own venv (ucp-sdk==0.1.0). Prints passed/failed per file; fails if any test does.
#
#   tests/ucp_conformance.sh            (UCP_CONFORMANCE_DIR, UCP_VENV, UCP_PORT may be set)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUITE="${UCP_CONFORMANCE_DIR:-$ROOT/../shared/ucp/conformance}"
UCP_VENV="${UCP_VENV:-$ROOT/.ucp-venv}"
PORT="${UCP_PORT:-8391}"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d)"
SECRET="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"

if [ ! -d "$SUITE" ]; then echo "conformance suite not found at $SUITE" >&2; exit 1; fi
if [ ! -x "$UCP_VENV/bin/python" ]; then
  "$PYTHON" -m venv "$UCP_VENV"
  "$UCP_VENV/bin/pip" install --quiet 'ucp-sdk==0.1.0' absl-py httpx pydantic fastapi uvicorn
fi
if [ ! -x .venv/bin/agentic-checkout ]; then ./dev shell true >/dev/null 2>&1 || true; fi

export DATABASE_URL="sqlite:///$WORK/ucp.db"
export PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
export UCP_MERCHANT_ID=flower_shop
export SIMULATION_SECRET="$SECRET"
export MERCHANT_SANDBOX=false LOAD_SEEDS=false LOG_LEVEL=WARNING

if curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  echo "port $PORT is already serving something; set UCP_PORT" >&2
  exit 1
fi
.venv/bin/agentic-checkout ucp load-merchant "$SUITE/test_data/flower_shop" \
  --merchant-id flower_shop --name "Flower Shop" >"$WORK/load.log" 2>&1 || { cat "$WORK/load.log"; exit 1; }
tail -1 "$WORK/load.log"
.venv/bin/agentic-checkout serve --port "$PORT" >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

cp -r "$SUITE" "$WORK/suite"
cd "$WORK/suite"
failed_total=0
printf '%-36s %7s %7s\n' file passed failed
for test in *_test.py; do
  "$UCP_VENV/bin/python" "$test" --server_url="http://127.0.0.1:$PORT/ucp" \
    --simulation_secret="$SECRET" \
    --conformance_input=test_data/flower_shop/conformance_input.json >"$WORK/$test.log" 2>&1
  ran=$(grep -oE '^Ran [0-9]+ test' "$WORK/$test.log" | grep -oE '[0-9]+' || echo 0)
  bad=$(grep -cE '^(FAIL|ERROR): ' "$WORK/$test.log")
  printf '%-36s %7d %7d\n' "$test" "$((ran - bad))" "$bad"
  if [ "$bad" -gt 0 ] || ! grep -q '^OK' "$WORK/$test.log"; then
    failed_total=$((failed_total + (bad > 0 ? bad : 1)))
    [ -n "${UCP_VERBOSE:-}" ] && cat "$WORK/$test.log"
    grep -E '^(FAIL|ERROR): |^[A-Za-z]*Error: ' "$WORK/$test.log" | cut -c1-300 | sed 's/^/    /'
  fi
done
if [ "$failed_total" -gt 0 ]; then
  echo "UCP conformance: $failed_total failing" >&2
  [ -n "${UCP_VERBOSE:-}" ] && tail -50 "$WORK/server.log"
  exit 1
fi
echo "UCP conformance: all passed"
