#!/usr/bin/env bash
# The promised minimum Python (requires-python >= 3.10), exercised for real: a CPython 3.10 venv
# (.venv310) with the runtime and serve dependencies, running the runtime, native and stream tests
# against the extension that scripts/setup.sh built (abi3-py310: one .so serves 3.10 and 3.11).
#   bash scripts/test-py310.sh [pytest args]      (scripts/test.sh calls it)
# Finds the interpreter as $PYTHON310, python3.10 on PATH, or pyenv's 3.10 build; with none, it says
# so and exits 0 (the static 3.10 checks - mypy python_version, ruff py310, vermin - still run).
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON310:-}"
if [ -z "$py" ]; then
    if command -v python3.10 >/dev/null 2>&1 && python3.10 -c '' 2>/dev/null; then
        py=$(command -v python3.10)
    else
        for cand in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10*/bin/python3.10; do
            [ -x "$cand" ] && py="$cand"
        done
    fi
fi
if [ -z "$py" ]; then
    echo "py310: SKIPPED - no CPython 3.10 on this machine (set PYTHON310=/path/to/python3.10)"
    exit 0
fi
"$py" -c 'import sys; assert sys.version_info[:2] == (3, 10), sys.version' || {
    echo "py310: $py is not CPython 3.10" >&2; exit 1; }
[ -f python/alpr/_native.abi3.so ] || { echo "py310: build the extension first (scripts/setup.sh)" >&2; exit 1; }
[ -x .venv310/bin/python ] || "$py" -m venv .venv310
# The requirements come from pyproject.toml (read by the main venv's 3.11 tomllib), so pip applies
# their markers for 3.10 (tomli is installed here, not on 3.11).
reqs=$(.venv/bin/python - <<'EOF'
import tomllib

p = tomllib.load(open("pyproject.toml", "rb"))["project"]
test_only = ("pytest", "pytest-timeout", "pytest-benchmark", "hypothesis", "jsonschema", "onnx")
dev = [r for r in p["optional-dependencies"]["dev"] if r.split(">")[0].split("=")[0] in test_only]
print("\n".join(p["dependencies"] + p["optional-dependencies"]["serve"] + dev))
EOF
)
.venv310/bin/python -m pip install -q --disable-pip-version-check -r /dev/stdin <<<"$reqs"
echo "== pytest on $("$py" -V) (runtime, native, stream, ONNX Runtime engine)"
PYTHONPATH="$PWD/python" .venv310/bin/python -m pytest -q -p no:cacheprovider \
    tests/native tests/pipeline tests/stream tests/engines/test_onnxruntime.py "$@"
