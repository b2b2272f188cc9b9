#!/usr/bin/env bash
# Produce 1,000,000 100-byte records with acks=all through librdkafka (Debian's kcat) into
# `paynode broker`, then fetch them all back, in one script run; each figure is printed beside
# the durable-commit baseline measured by the same run (kcat's own produce to the same broker
# with one message per request, i.e. one fsync per record batch of one).
# Usage: Benchmarks/scripts/kafka-bench.sh [RECORDS] [RUNS]   (build first: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/../.."
records="${1:-1000000}"
runs="${2:-3}"
paynode="${PAYNODE_BIN:-.build/release/paynode}"
work="$(mktemp -d /tmp/paynode-kafka-bench.XXXXXX)"
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -c "import sys; sys.stdout.write(('x' * 99 + '\n') * $records)" > "$work/records.txt"
"$paynode" broker --data-dir "$work/data" --kafka-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 --log-level warning > "$work/ready" &
broker_pid=$!
for _ in $(seq 100); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.1; done
port=$(grep -o 'kafka=[0-9]*' "$work/ready" | cut -d= -f2)
bootstrap="127.0.0.1:$port"

seconds() { python3 -c "import time; print(time.monotonic())"; }
rate() { python3 -c "print(int($1 / ($3 - $2)))"; }

echo "records=$records runs=$runs cores=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\""
for run in $(seq "$runs"); do
    topic="bench-$run"
    kcat -b "$bootstrap" -P -t "$topic" -p 0 -l /dev/null >/dev/null 2>&1 || true
    start=$(seconds)
    kcat -b "$bootstrap" -P -t "$topic" -p 0 -X acks=all -X linger.ms=5 -X batch.num.messages=10000 \
        -X queue.buffering.max.messages=2000000 -l "$work/records.txt"
    produced=$(seconds)
    count=$(kcat -b "$bootstrap" -C -t "$topic" -p 0 -o beginning -e -q -X fetch.max.bytes=52428800 -f '\n' | wc -l)
    fetched=$(seconds)
    # Baseline in the same run: 2,000 records, one per request (every commit one fsync).
    head -n 2000 "$work/records.txt" > "$work/small.txt"
    base_start=$(seconds)
    kcat -b "$bootstrap" -P -t "$topic-baseline" -p 0 -X acks=all -X linger.ms=0 -X batch.num.messages=1 \
        -X max.in.flight=1 -l "$work/small.txt"
    base_end=$(seconds)
    [[ "$count" == "$records" ]] || { echo "fetched $count of $records records" >&2; exit 1; }
    produce_rate=$(rate "$records" "$start" "$produced")
    fetch_rate=$(rate "$records" "$produced" "$fetched")
    baseline_rate=$(rate 2000 "$base_start" "$base_end")
    echo "run $run: produce ${produce_rate} records/s, fetch ${fetch_rate} records/s, one-record-per-commit baseline ${baseline_rate} records/s (produce/baseline $(python3 -c "print(round($produce_rate/$baseline_rate, 1))")x)"
done
