#!/usr/bin/env bash
# The one test command: installs everything the tests need, starts the services, runs every check.
#   bash scripts/test.sh            (what .ci/run calls)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
bash scripts/setup.sh dev,train,serve,openvino
bash scripts/services.sh start
trap 'bash scripts/services.sh stop || true' EXIT
. .venv/bin/activate

echo "== cargo fmt";    cargo fmt --all -- --check
echo "== cargo clippy"; cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test";   cargo test --workspace
echo "== ruff";         ruff check python tests benches && ruff format --check python tests benches
echo "== mypy";         mypy
echo "== imports";      lint-imports --no-cache
echo "== stubtest";     python -m mypy.stubtest alpr._native
echo "== pytest";       python -m pytest -q -p no:cacheprovider "$@"
echo "== python 3.10"; bash scripts/test-py310.sh
