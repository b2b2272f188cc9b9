#!/usr/bin/env bash
# The full flow (HTTP order -> executor -> simulated PSP at 0 ms -> result -> terminal state) as
# ordinary HTTP clients drive it, beside loadtest's pipelining generator, in one script run:
#   wrk        wrk -t2 -c256: 256 keep-alive HTTP/1.1 connections, one request in flight on each
#              (no pipelining), every request a new order (Benchmarks/scripts/orders.lua), with
#              an API key. Orders/s = orders created / (first request -> last order terminal),
#              the last read from the service's paynode_payment_orders gauge every 50 ms
#              (orders created: that gauge's SUCCESSFUL count, every order is tok_visa).
#   loadtest   loadtest --concurrency 512 --connections 128 --max-outstanding 8192: 4 requests
#              in flight per connection, pipelined, at most 8,192 orders not yet terminal; its
#              own figure (orders whose terminal event was read / duration).
# Each round runs both on fresh nodes (fresh data directories), wrk first in odd rounds. Durable
# defaults throughout (every commit fsynced). Prints every run, the medians and the commit.
# Usage: Benchmarks/scripts/ordinary-clients.sh PAYNODE [ROUNDS] [LOADTEST] [SECONDS]
#   e.g. swift build -c release --product paynode && swift build -c release --product loadtest
#        Benchmarks/scripts/ordinary-clients.sh .build/release/paynode 3
# Needs wrk: scripts/install-deps.sh bench installs it.
set -euo pipefail
paynode="$(realpath "$1")"; rounds="${2:-3}"
loadtest="$(realpath "${3:-$(dirname "$paynode")/loadtest}")"
seconds="${4:-30}"
script_dir="$(cd "$(dirname "$0")" && pwd)"
command -v wrk >/dev/null || { echo "wrk is not installed: run scripts/install-deps.sh bench" >&2; exit 2; }
work="$(mktemp -d /tmp/paynode-ordinary-clients.XXXXXX)"
# Node pids go to a file: run_wrk runs in a command substitution's subshell, whose exit (a
# failed run) the EXIT trap below does not see.
cleanup() { [ -f "$work/pids" ] && xargs -r kill -9 < "$work/pids" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

wait_ready() {  # wait_ready LOGFILE NODE -> the ready line
    for _ in $(seq 600); do
        if line=$(grep -s -m1 "^paynode $2 ready" "$1"); then echo "$line"; return; fi
        sleep 0.1
    done
    echo "paynode $2 did not become ready:" >&2; cat "$1" >&2; exit 1
}

port_of() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

gauge() {  # gauge OPS_PORT STATUS -> orders with that status
    curl -sf "http://127.0.0.1:$1/metrics" | sed -n "s/^paynode_payment_orders{status=\"$2\"} \([0-9.e+]*\)$/\1/p" \
        | python3 -c "import sys; t=sys.stdin.read().strip(); print(int(float(t)) if t else 0)"
}

run_wrk() {  # -> orders/s, and the run's details on stderr
    local dir="$work/wrk-$RANDOM" key ready http ops executor_pid service_pid
    mkdir -p "$dir"
    key=$("$paynode" apikeys create --data-dir "$dir/service" --merchant m_1 --rate-limit 0 2>/dev/null)
    "$paynode" service --data-dir "$dir/service" --kafka-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
        --ops-listen 127.0.0.1:0 --executor-principal User:ANONYMOUS --super-users User:ANONYMOUS \
        --log-level warning >"$dir/service.out" 2>"$dir/service.err" &
    service_pid=$!; echo "$service_pid" >> "$work/pids"
    ready=$(wait_ready "$dir/service.out" service)
    http=$(port_of "$ready" http); ops=$(port_of "$ready" ops)
    "$paynode" executor --data-dir "$dir/executor" --bootstrap-servers "127.0.0.1:$(port_of "$ready" kafka)" \
        --http-listen 127.0.0.1:0 --psp-latency-ms 0 --log-level warning >"$dir/executor.out" 2>"$dir/executor.err" &
    executor_pid=$!; echo "$executor_pid" >> "$work/pids"
    wait_ready "$dir/executor.out" executor >/dev/null
    local start end out created other
    start=$(date +%s.%N)
    out=$(wrk -t2 -c256 -d"${seconds}s" --latency -s "$script_dir/orders.lua" "http://127.0.0.1:$http" -- "run$RANDOM" "$key")
    created=$(echo "$out" | sed -n 's/^wrk-created //p'); other=$(echo "$out" | sed -n 's/^wrk-other //p')
    [ "${other:-1}" = 0 ] || { echo "$out" >&2; echo "wrk got $other answers other than 201" >&2; exit 1; }
    local pending successful
    for _ in $(seq 2400); do   # at most 120 s for the backlog
        pending=$(gauge "$ops" PENDING); successful=$(gauge "$ops" SUCCESSFUL)
        [ "$pending" = 0 ] && [ "$successful" -ge "$created" ] && break
        sleep 0.05
    done
    end=$(date +%s.%N)
    # wrk stops reading when its time is up: the requests then in flight (at most one per
    # connection) were answered by the service but not counted by wrk; they are orders too.
    [ "$pending" = 0 ] && [ "$successful" -ge "$created" ] && [ "$successful" -le $((created + 256)) ] \
        || { echo "wrk: $created created, $successful SUCCESSFUL, $pending PENDING after the drain" >&2; exit 1; }
    kill -9 "$service_pid" "$executor_pid" 2>/dev/null; wait "$service_pid" "$executor_pid" 2>/dev/null || true
    echo "  wrk: $successful orders, requests $(echo "$out" | sed -n 's/^Requests\/sec: *//p')/s while wrk ran," \
         "p50 $(echo "$out" | sed -n 's/^wrk-latency-p50-ms //p') ms p99 $(echo "$out" | sed -n 's/^wrk-latency-p99-ms //p') ms," \
         "all terminal $(python3 -c "print(f'{$end - $start - $seconds:.1f}')") s after wrk stopped" >&2
    python3 -c "print(round($successful / ($end - $start)))"
}

run_loadtest() {
    local out
    out=$("$loadtest" --duration "$seconds" --concurrency 512 --connections 128 --max-outstanding 8192 \
        --tokens tok_visa --no-check --paynode "$paynode" --work-dir "$work/loadtest-$RANDOM" 2>&1)
    echo "$out" | grep -q "PASSED" || { echo "$out" >&2; echo "loadtest did not pass" >&2; exit 1; }
    echo "$out" | sed -n 's/^ *throughput *\([0-9]*\) completed\/s.*/\1/p'
}

commit=$(git -C "$script_dir" rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "commit=$commit rounds=$rounds seconds=$seconds cores=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\" paynode=$paynode"
wrk_rates=(); loadtest_rates=()
for round in $(seq "$rounds"); do
    if [ $((round % 2)) = 1 ]; then w=$(run_wrk); l=$(run_loadtest)
    else l=$(run_loadtest); w=$(run_wrk); fi
    wrk_rates+=("$w"); loadtest_rates+=("$l")
    echo "round $round: wrk $w orders/s  loadtest $l orders/s  wrk/loadtest $(python3 -c "print(f'{$w / $l:.3f}')")"
done
median() { printf '%s\n' "$@" | sort -n | python3 -c "import sys; v=[float(x) for x in sys.stdin]; print(round(v[len(v)//2]))"; }
echo "median: wrk $(median "${wrk_rates[@]}") orders/s  loadtest $(median "${loadtest_rates[@]}") orders/s"
