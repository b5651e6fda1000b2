#!/usr/bin/env bash
# Wait until `alpr serve` (process PID) answers GET /api/v1/health, or say why it did not: it exited
# (the end of its log is shown) or it did not answer in time.   Exit status 0 when it is up, else 1.
# Usage: bash scripts/wait-bridge.sh PID URL TOKEN LOG [SECONDS]
set -uo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 PID URL TOKEN LOG [SECONDS]" >&2
    exit 2
fi
pid=$1 url=$2 token=$3 log=$4 limit=${5:-30}
fail() {
    echo "wait-bridge: $1; the end of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
}
alive() {  # running, not a zombie its parent has yet to reap
    local state
    state=$(ps -o stat= -p "$pid" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}
deadline=$((SECONDS + limit))
while [ "$SECONDS" -lt "$deadline" ]; do
    alive || fail "alpr serve (pid $pid) exited before it answered"
    if curl -fsS -o /dev/null --max-time 2 -H "Authorization: Bearer $token" "$url/api/v1/health" 2>/dev/null; then
        exit 0
    fi
    sleep 0.2
done
alive || fail "alpr serve (pid $pid) exited before it answered"
fail "alpr serve did not answer $url/api/v1/health within ${limit} s"
