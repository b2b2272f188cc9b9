#!/usr/bin/env bash
# What TLS and SASL cost: the same paynode and loadtest binaries doing the same work in one
# script run, plaintext and one secured variant alternating (the secured one first in every
# other round) so the machine's drift hits both. The PSP-result pipeline (orders created first,
# results as fast as possible) and the full flow (HTTP order -> executor -> simulated PSP ->
# result -> terminal event) are measured; prints each run and the median of the per-round
# ratios variant/plaintext.
# Variants (the loadtest's cluster security, docs/loadtest.md):
#   tls             --tls: Kafka as SSL and the payment API as HTTPS with development
#                   certificates, every client (executor, loadtest's HTTP and Kafka clients)
#                   verifying them (the default, as before)
#   sasl_ssl        --cluster-security sasl_ssl: as tls, and every Kafka client authenticates
#                   with SCRAM-SHA-512 (executor as User:executor, loadtest as User:loadtest)
#   sasl_plaintext  --cluster-security sasl_plaintext: SCRAM without TLS (HTTP plain too)
# SASL adds a handshake per connection and nothing per request, so sasl_ssl is expected to cost
# what tls costs once the (long-lived) connections are up: compare a sasl_ssl run with a tls run.
# Usage: Benchmarks/scripts/security-cost.sh PAYNODE [ROUNDS] [LOADTEST] [VARIANT]
#   e.g. swift build -c release --product paynode && swift build -c release --product loadtest
#        Benchmarks/scripts/security-cost.sh .build/release/paynode 3
#        Benchmarks/scripts/security-cost.sh .build/release/paynode 5 "" sasl_ssl
set -euo pipefail
paynode="$(realpath "$1")"; rounds="${2:-3}"
loadtest="$(realpath "${3:-$(dirname "$paynode")/loadtest}")"
variant="${4:-tls}"
case "$variant" in
    tls) secured=(--tls) ;;
    ssl|sasl_ssl|sasl_plaintext) secured=(--cluster-security "$variant") ;;
    *) echo "VARIANT must be tls, ssl, sasl_ssl or sasl_plaintext, not $variant" >&2; exit 2 ;;
esac
work="$(mktemp -d /tmp/paynode-security-cost.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

run() {  # run MODE [loadtest options...] -> completed/s
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

echo "rounds=$rounds variant=$variant (${secured[*]}) cores=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\" paynode=$paynode"
for mode in pipeline full; do
    ratios=()
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) = 1 ]; then a=$(run $mode); b=$(run $mode "${secured[@]}")
        else b=$(run $mode "${secured[@]}"); a=$(run $mode); fi
        ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
        ratios+=("$ratio")
        echo "$mode round $round: plaintext $a/s  $variant $b/s  $variant/plaintext $ratio"
    done
    echo "$mode median $variant/plaintext: $(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c "import sys; v=[float(x) for x in sys.stdin]; print(f'{v[len(v)//2]:.3f}')")"
done
