#!/usr/bin/env bash
# The main job on the embedded default (bundled models, ONNX Runtime on CPU, SQLite), end to end:
#   1. install alpr (.venv, Rust core built by maturin) with the bridge extra,
#   2. render a 1080p demo video of passing vehicles carrying synthetic plates,
#   3. start the bridge `alpr serve` (encrypted SQLite store + REST on 127.0.0.1),
#   4. run `alpr run video.mp4 --publish ...`: one event per vehicle, streamed over ZeroMQ,
#   5. read the stored events back through the REST API with a viewer token.
# Everything it writes goes to ./demo-out (git-ignored).   Usage: bash scripts/demo.sh [VIDEO]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh          # fonts for the synthetic plates
bash scripts/setup.sh serve,demo
. .venv/bin/activate

out=demo-out; mkdir -p "$out"
video="${1:-$out/demo.mp4}"
zmq_port=${ALPR_DEMO_ZMQ_PORT:-5556}; http_port=${ALPR_DEMO_HTTP_PORT:-8088}
db="sqlite:///$out/alpr.db"; keys="$out/alpr.keys"

if [ ! -f "$video" ]; then
    echo "== rendering a demo video: $video"
    python scripts/make_demo_video.py "$video" --count 6 --seed 7
fi
[ -f "$keys" ] || alpr keys init --key-file "$keys"

token=$(alpr token create --role viewer --name demo --db "$db" --key-file "$keys")
echo "== starting the bridge (REST on 127.0.0.1:$http_port, store $db)"
alpr serve --zmq "tcp://127.0.0.1:$zmq_port" --db "$db" --key-file "$keys" \
    --http "127.0.0.1:$http_port" > "$out/serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
# Stop here, with the reason from serve.log, when the bridge did not come up (e.g. the port is taken).
bash scripts/wait-bridge.sh "$serve_pid" "http://127.0.0.1:$http_port" "$token" "$out/serve.log" 60

echo "== reading the video (one JSON line per vehicle)"
alpr run "$video" --camera gate --json --no-progress \
    --publish "tcp://127.0.0.1:$zmq_port" --outbox "$out/outbox.db" | tee "$out/events.jsonl"

echo "== the reads, from the REST API (GET /api/v1/reads)"
for _ in $(seq 1 30); do
    body=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$http_port/api/v1/reads?limit=50" || true)
    n=$(python -c 'import json,sys; print(len(json.loads(sys.argv[1] or "{}").get("items", [])))' "$body")
    [ "$n" -ge "$(wc -l < "$out/events.jsonl")" ] && break
    sleep 1
done
if [ "$n" -lt "$(wc -l < "$out/events.jsonl")" ]; then
    echo "demo: only $n of $(wc -l < "$out/events.jsonl") events reached the REST API; the end of $out/serve.log:" >&2
    tail -n 20 "$out/serve.log" >&2
    exit 1
fi
python - "$body" <<'PY'
import json, sys
items = json.loads(sys.argv[1])["items"]
print(f"{len(items)} reads stored (plate text encrypted at rest):")
for it in items:
    print(f"  {it['ts']}  {it['camera']:<6} {it['plate']:<10} {it['confidence']:.2f}")
PY
