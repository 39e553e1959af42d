#!/usr/bin/env bash
# Soak: three otlp-loadgen senders at once (traces over gRPC, logs over
# HTTP/protobuf, metrics over gRPC) for DURATION seconds against one
# `otlp-receiver --count-only`, stopped (SIGINT) and started again 4 s later
# every EVERY seconds; every 10 s the resident memory of the four processes
# goes to rss.txt. At the end it sums what the receiver's lives counted and
# checks it against what each sender says it exported: exactly equal, or the
# script fails. A graceful stop answers every request it counted, so a
# duplicate is a bug here (a SIGKILL would allow at-least-once duplicates).
#
#   cargo build --release -p otlp-contrib --features tools --bins
#   benches/scripts/soak.sh [DURATION] [EVERY] [WORKDIR]
#
# Defaults: 600 s, a restart every 150 s, a fresh temporary directory (kept,
# and named at the end). Rates: 20,000 spans/s, 10,000 log records/s, 5,000
# recordings/s on 500 series. The receiver listens on 127.0.0.1:14317 and
# :14318. Needs python3 for the final check.
set -euo pipefail

duration=${1:-600}
every=${2:-150}
work=${3:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/release
mkdir -p "$work"
cd "$work"
rm -f ./*.log rss.txt

lives=0
start_receiver() {
    "$bin/otlp-receiver" --grpc 127.0.0.1:14317 --http 127.0.0.1:14318 --count-only \
        --summary-every 10 >"receiver.$lives.log" 2>&1 &
    receiver=$!
    lives=$((lives + 1))
    for _ in $(seq 100); do grep -q listening "receiver.$((lives - 1)).log" && break; sleep 0.1; done
}
rss() { awk '/VmRSS/ { printf "%s", $2 }' "/proc/$1/status" 2>/dev/null || printf -- "-"; }

start_receiver
common=(--duration "${duration}s" --quiet --json-summary --shutdown-timeout 60s)
"$bin/otlp-loadgen" --endpoint http://127.0.0.1:14317 --protocol grpc --signal traces \
    --rate 20000 --workers 2 "${common[@]}" >traces.log 2>&1 &
traces=$!
"$bin/otlp-loadgen" --endpoint http://127.0.0.1:14318 --protocol http/protobuf --signal logs \
    --rate 10000 --workers 2 "${common[@]}" >logs.log 2>&1 &
logs=$!
"$bin/otlp-loadgen" --endpoint http://127.0.0.1:14317 --protocol grpc --signal metrics \
    --rate 5000 --series 500 "${common[@]}" >metrics.log 2>&1 &
metrics=$!

echo "seconds traces_kb logs_kb metrics_kb receiver_kb" >rss.txt
elapsed=0
while kill -0 "$traces" 2>/dev/null || kill -0 "$logs" 2>/dev/null || kill -0 "$metrics" 2>/dev/null; do
    sleep 10
    elapsed=$((elapsed + 10))
    echo "$elapsed $(rss "$traces") $(rss "$logs") $(rss "$metrics") $(rss "$receiver")" >>rss.txt
    if [ $((elapsed % every)) -eq 0 ] && [ "$elapsed" -lt "$duration" ]; then
        kill -INT "$receiver"
        wait "$receiver" || true
        sleep 4
        start_receiver
    fi
done
status=0
wait "$traces" || status=$?
wait "$logs" || status=$?
wait "$metrics" || status=$?
kill -INT "$receiver"
wait "$receiver" || true

python3 - "$status" <<'EOF'
import glob, json, sys
received = {}
for path in glob.glob("receiver.*.log"):
    finals = [line for line in open(path) if line.startswith("final ")]
    if not finals:
        sys.exit(f"{path}: the receiver printed no final count")
    for field in finals[-1].split()[1:]:
        key, value = field.split("=")
        received[key] = received.get(key, 0) + int(value)
sent = {name: json.loads(open(f"{name}.log").read().strip().splitlines()[-1])
        for name in ("traces", "logs", "metrics")}
checks = [
    ("spans", sent["traces"]["exported"], received.get("spans", 0)),
    ("log records", sent["logs"]["exported"], received.get("log_records", 0)),
    ("data points", sent["metrics"]["data_points_exported"], received.get("data_points", 0)),
]
ok = int(sys.argv[1]) == 0 and all(s["all_delivered"] for s in sent.values())
for name, exported, got in checks:
    print(f"{name}: exported {exported}, received {got}")
    ok = ok and exported == got
print(f"receiver lives: {len(glob.glob('receiver.*.log'))}, bad requests: {received.get('bad_requests', 0)}")
print("soak: " + ("every record delivered exactly once" if ok else "FAILED"))
sys.exit(0 if ok else 1)
EOF
echo "logs and rss.txt in $work"
