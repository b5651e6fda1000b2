#!/usr/bin/env bash
# Create .venv and install alpr (Rust extension built by maturin) with the extras given as arguments.
# Idempotent: re-running only rebuilds what changed.   Usage: scripts/setup.sh [dev,train,serve]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
PY="${PYTHON:-python3}"
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo (Rust) is required to build the native core: https://rustup.rs" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extras" ]; then
    .venv/bin/python -m pip install -q -e ".[$extras]"
else
    .venv/bin/python -m pip install -q -e .
fi
