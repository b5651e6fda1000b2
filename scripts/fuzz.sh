#!/usr/bin/env bash
# Long run of the stable fuzz targets (rust/core/tests/fuzz_*.rs; harness: tests/fuzz_common):
#   bash scripts/fuzz.sh                 every target, 1,000,000 generated cases each
#   ALPR_FUZZ_CASES=20000 bash scripts/fuzz.sh ctc nms
# Optimised build (`--profile fast`) with overflow checks and debug assertions on, so arithmetic
# overflow is a failure too. One target at a time; each prints its summary line (cases, time,
# accepted, panics), its full output is in target/fuzz-logs/<target>.log, and failing inputs are
# saved under target/tmp/fuzz-failures/<target>/. Exits non-zero if any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export ALPR_FUZZ_CASES="${ALPR_FUZZ_CASES:-1000000}"
export CARGO_PROFILE_FAST_OVERFLOW_CHECKS=true CARGO_PROFILE_FAST_DEBUG_ASSERTIONS=true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(nms decode ctc pattern frame jpeg letterbox crop)
cargo test --profile fast -p alpr-core --no-run -q || exit 1
mkdir -p target/fuzz-logs
status=0
for t in "${targets[@]}"; do
    log="target/fuzz-logs/$t.log"
    start=$(date +%s)
    cargo test --profile fast -q -p alpr-core --test "fuzz_$t" -- --nocapture >"$log" 2>&1
    rc=$?
    grep -E '^fuzz ' "$log" | tail -n 1
    echo "  fuzz_$t: exit $rc, $(( $(date +%s) - start )) s wall"
    [ $rc -eq 0 ] || status=1
done
exit $status
