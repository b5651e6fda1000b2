#!/usr/bin/env bash
# Test the aarch64 wheel from dist/ on an emulated arm64 Debian (run scripts/build-wheels.sh first).
#
#   sudo bash scripts/test-aarch64.sh [dist/alpr_engine-...-manylinux_2_28_aarch64.whl]
#
# An arm64 Debian bookworm root (glibc 2.36, Python 3.11: what Raspberry Pi OS ships, and a glibc
# close to Jetson's Ubuntu 22.04) is made once by debootstrap in $ALPR_ROOTS/test-bookworm-arm64,
# outside the repository; its programs run through qemu-user-static via binfmt_misc. In it: a venv,
# `pip install` of the wheel with its runtime dependencies and the [serve] extra (aarch64 wheels from
# PyPI), then
#   1. the extension is the installed aarch64 one (not a source tree),
#   2. pytest on tests/native and tests/pipeline (-m "not slow and not gpu and not services"), from a
#      copy of the tests with no python/ folder beside them,
#   3. `alpr read` on a rendered still of a car, which must read the plate drawn on it.
# Exits non-zero on any failure. Slow (emulation): not part of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/roots.sh
. scripts/lib/roots.sh

SUITE="${ALPR_TEST_SUITE:-bookworm}"
TR="$ALPR_ROOTS/test-$SUITE-arm64"
MARK="$TR/.alpr-test-root-v1"
MARKERS="${ALPR_TEST_MARKERS:-not slow and not gpu and not services}"
PLATE=KT52XWA

need_root
host_pkgs debootstrap qemu-user-static binfmt-support
wheel="${1:-$(newest dist/alpr_engine-*_aarch64.whl)}"
if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then die "no aarch64 wheel in dist/: run scripts/build-wheels.sh first"; fi
trap unmount_all EXIT
started=$SECONDS

if [ ! -e "$MARK" ]; then
    log "making the arm64 test root $TR (Debian $SUITE, once; emulated, takes minutes)"
    if [ ! -x "$TR/usr/bin/apt-get" ]; then
        rm -rf "$TR"
        mkdir -p "$TR"
        ensure_binfmt_aarch64 "$TR"
        nice -n 10 debootstrap --arch=arm64 --variant=minbase --include=ca-certificates,python3,python3-venv \
            "$SUITE" "$TR" "$ALPR_MIRROR" >&2
    fi
    ensure_binfmt_aarch64 "$TR"
    mount_in "$TR"
    in_root "$TR" python3 -m venv /opt/alpr
    in_root "$TR" nice -n 10 /opt/alpr/bin/pip install -q pytest pytest-timeout pytest-benchmark hypothesis onnx
    touch "$MARK"
fi
ensure_binfmt_aarch64 "$TR"
mount_in "$TR"
arch="$(in_root "$TR" uname -m)"
[ "$arch" = aarch64 ] || die "the test root runs as $arch, not aarch64"
log "arm64 root: $(in_root "$TR" /opt/alpr/bin/python --version), $(in_root "$TR" ldd --version | head -1)"

# The wheel, its runtime dependencies from PyPI (left in place between runs), and nothing from the repo.
rm -rf "$TR/opt/wheels" && mkdir -p "$TR/opt/wheels" && cp "$wheel" "$TR/opt/wheels/"
w="/opt/wheels/$(basename "$wheel")"
log "pip install $(basename "$wheel")"
t=$SECONDS
in_root "$TR" nice -n 10 /opt/alpr/bin/pip install -q --force-reinstall --no-deps "$w"
# [serve]: tests/pipeline/test_timestamps.py checks the bridge's timestamp helpers too.
in_root "$TR" nice -n 10 /opt/alpr/bin/pip install -q "${w}[serve]"
log "installed in $((SECONDS - t)) s"

rm -rf "$TR/opt/alpr-tests"
mkdir -p "$TR/opt/alpr-tests/tests" "$TR/opt/alpr-tests/scripts"
cp -r tests/native tests/pipeline "$TR/opt/alpr-tests/tests/"
# The suites' shared helpers (pyproject puts tests/ on the path) and run policy (slow tests opt-in).
cp tests/netutil.py tests/conftest.py "$TR/opt/alpr-tests/tests/"
mkdir -p "$TR/opt/alpr-tests/benches" && cp benches/soak.py "$TR/opt/alpr-tests/benches/"  # its short run
cp scripts/make_demo_video.py "$TR/opt/alpr-tests/scripts/"
cp pyproject.toml "$TR/opt/alpr-tests/"  # the pytest settings (markers, warnings as errors)
# Under emulation code runs 10-50x slower: Hypothesis' per-example deadline would fail on time alone.
cat >"$TR/opt/alpr-tests/conftest.py" <<'EOF'
"""Emulated run only (scripts/test-aarch64.sh): no per-example time limit for Hypothesis."""

from hypothesis import settings

settings.register_profile("emulated", deadline=None)
settings.load_profile("emulated")
EOF

failed=0
log "1/3 the installed extension"
in_root "$TR" sh -c 'cd /opt/alpr-tests && /opt/alpr/bin/python -c "
import platform, alpr, alpr._native as n
assert platform.machine() == \"aarch64\", platform.machine()
assert \"/site-packages/\" in n.__file__, n.__file__
print(\"alpr\", alpr.__file__, n.__file__, platform.machine())
"' || failed=1

log "2/3 pytest tests/native tests/pipeline -m \"$MARKERS\""
t=$SECONDS
# The short soak (500 frames of real inference through `alpr run`) needs > 5 min under qemu, past its
# time limit; it is a delivery test, run natively by scripts/test.sh. Everything else runs here.
in_root "$TR" sh -c "cd /opt/alpr-tests && nice -n 10 /opt/alpr/bin/python -m pytest -q -p no:cacheprovider \
    -m '$MARKERS' --deselect tests/pipeline/test_soak_short.py::test_short_soak_delivers_every_event \
    tests/native tests/pipeline" || failed=1
log "pytest took $((SECONDS - t)) s"

log "3/3 alpr read on a rendered image"
cat >"$TR/opt/alpr-tests/render_still.py" <<'EOF'
"""A still of a car close to the camera with the plate sys.argv[2] (scripts/make_demo_video.py's drawing)."""

import importlib.util
import sys

import cv2
import numpy as np

spec = importlib.util.spec_from_file_location("make_demo_video", "/opt/alpr-tests/scripts/make_demo_video.py")
assert spec is not None and spec.loader is not None
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
rng = np.random.default_rng(5)
w, h = 1280, 720
frame = mod._background(w, h, rng)
rgb, label = mod.make_plate(rng, sys.argv[2], "EU")
mod._draw_vehicle(frame, np.ascontiguousarray(rgb[..., ::-1]), w / 2, h * 0.9, w * 0.38, (90, 40, 200))
assert cv2.imwrite(sys.argv[1], frame)
EOF
t=$SECONDS
if in_root "$TR" /opt/alpr/bin/python /opt/alpr-tests/render_still.py /tmp/car.png "$PLATE" &&
    out="$(in_root "$TR" /opt/alpr/bin/alpr read --json /tmp/car.png)"; then
    echo "$out"
    if echo "$out" | grep -q "\"plate\":\"$PLATE\""; then
        log "alpr read found $PLATE in $((SECONDS - t)) s"
    else
        log "alpr read did not find $PLATE"
        failed=1
    fi
else
    failed=1
fi

[ "$failed" -eq 0 ] || die "aarch64 wheel $(basename "$wheel"): some checks failed (see above)"
log "OK: aarch64 wheel $(basename "$wheel") passed under emulation in $((SECONDS - started)) s"
