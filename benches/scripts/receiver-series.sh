#!/usr/bin/env bash
# One decoding receiver serving one otlp-rust sender of 1M spans after another:
# per run, the receiver's context switches and CPU (`perf stat -p`), the
# sender's CPU (user + system) and the time it took to produce the spans.
# The table of benches/README.md, "The decoding receiver: each connection on
# one thread", came from this.
#
#   cargo build --release -p otlp-benches --bin compare
#   benches/scripts/receiver-series.sh [grpc|http] [RUNS] [RECEIVER_BINARY]
#
# RECEIVER_BINARY defaults to target/release/compare; give an older build of
# `compare` to measure its receiver against the same sender. Needs `perf`.
set -euo pipefail

transport=${1:-http}
runs=${2:-4}
root=$(cd "$(dirname "$0")/../.." && pwd)
sender=${CARGO_TARGET_DIR:-$root/target}/release/compare
receiver_bin=${3:-$sender}
work=$(mktemp -d)
trap 'kill "$receiver" 2>/dev/null || true; rm -rf "$work"' EXIT

mkfifo "$work/stdin"
"$receiver_bin" --role receiver --receiver-threads 2 --store decode <"$work/stdin" >"$work/receiver.out" 2>&1 &
receiver=$!
exec 3>"$work/stdin" # keeps the receiver's stdin open until this script ends
for _ in $(seq 100); do grep -q listening "$work/receiver.out" && break; sleep 0.1; done
grpc=$(grep -o 'grpc=[^ ]*' "$work/receiver.out" | cut -d= -f2)
http=$(grep -o 'http=[^ ]*' "$work/receiver.out" | cut -d= -f2)

for run in $(seq "$runs"); do
  perf stat -e context-switches,task-clock -p "$receiver" -o "$work/stat" &
  stat=$!
  sleep 0.2
  sender_line=$(python3 - "$sender" --role sender --impl otlp-rust --transport "$transport" \
    --grpc "$grpc" --http "$http" --front native --threads 1 --shape flat --values borrowed \
    --shutdown-timeout 30 --spans 1000000 <<'PY'
import json, resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, check=True).stdout.decode()
line = out.strip().splitlines()[-1]
result = json.loads(line[line.index("{"):])
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
produce = (result["produced_ns"] - result["start_ns"]) / 1e9
print(f"sender CPU {usage.ru_utime + usage.ru_stime:.3f} s, producing {produce:.2f} s, "
      f"exported {result['pipeline_stats']['exported']}")
PY
  )
  kill -INT "$stat"
  wait "$stat" || true
  switches=$(awk '/context-switches/ {print $1}' "$work/stat")
  cpu=$(awk '/task-clock/ {print $1}' "$work/stat")
  echo "run $run ($transport): receiver $switches context switches, $cpu ms CPU; $sender_line"
done
