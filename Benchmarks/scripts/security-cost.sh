#!/usr/bin/env bash
# What TLS costs: the same paynode and loadtest binaries doing the same work in one script run,
# plaintext and TLS alternating (TLS first in every other round) so the machine's drift hits
# both. With --tls the loadtest's cluster serves Kafka as SSL and the payment API as HTTPS with
# development certificates, and every client (executor, loadtest's HTTP connections and Kafka
# producers) verifies them. The PSP-result pipeline (orders created first, results as fast as
# possible) and the full flow (HTTP order -> executor -> simulated PSP -> result -> terminal
# event) are measured; prints each run and the median of the per-round ratios tls/plaintext.
# SASL adds one handshake per connection and nothing per request, so SASL_SSL costs what SSL
# costs once the clients' connections are up (they are long-lived here).
# Usage: Benchmarks/scripts/security-cost.sh PAYNODE [ROUNDS] [LOADTEST]
#   e.g. swift build -c release --product paynode && swift build -c release --product loadtest
#        Benchmarks/scripts/security-cost.sh .build/release/paynode 3
set -euo pipefail
paynode="$(realpath "$1")"; rounds="${2:-3}"
loadtest="$(realpath "${3:-$(dirname "$paynode")/loadtest}")"
work="$(mktemp -d /tmp/paynode-security-cost.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

run() {  # run MODE [--tls] -> completed/s
    local mode="$1"; shift
    local out
    if [ "$mode" = pipeline ]; then
        out=$("$loadtest" --mode pipeline --orders 100000 --duration 30 --concurrency 256 --connections 16 \
            --tokens tok_visa --no-check --paynode "$paynode" --work-dir "$work/run-$RANDOM" "$@" 2>&1)
    else
        out=$("$loadtest" --duration 15 --concurrency 512 --connections 128 --tokens tok_visa \
            --max-outstanding 8192 --no-check --paynode "$paynode" --work-dir "$work/run-$RANDOM" "$@" 2>&1)
    fi
    echo "$out" | grep -q "PASSED" || { echo "$out" >&2; echo "loadtest did not pass" >&2; exit 1; }
    echo "$out" | sed -n 's/^ *throughput *\([0-9]*\) completed\/s.*/\1/p'
}

echo "rounds=$rounds cores=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\" paynode=$paynode"
for mode in pipeline full; do
    ratios=()
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) = 1 ]; then a=$(run $mode); b=$(run $mode --tls)
        else b=$(run $mode --tls); a=$(run $mode); fi
        ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
        ratios+=("$ratio")
        echo "$mode round $round: plaintext $a/s  tls $b/s  tls/plaintext $ratio"
    done
    echo "$mode median tls/plaintext: $(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c "import sys; v=[float(x) for x in sys.stdin]; print(f'{v[len(v)//2]:.3f}')")"
done
