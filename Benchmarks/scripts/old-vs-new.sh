#!/usr/bin/env bash
# Throughput of two paynode builds doing the same work, driven by the same loadtest binary in one
# script run, alternating old/new (new/old in the next round) so the machine's drift hits both:
# the PSP-result pipeline (orders created first, results as fast as possible) and the full flow
# (HTTP order -> executor -> simulated PSP -> result -> terminal event, bounded backlog).
# Prints each run and the median of the per-round ratios new/old.
# Usage: Benchmarks/scripts/old-vs-new.sh OLD_PAYNODE NEW_PAYNODE [ROUNDS] [LOADTEST]
#   e.g. git worktree add /tmp/old 254cff2 && (cd /tmp/old && swift build -c release --product paynode)
#        swift build -c release --product paynode --product loadtest
#        Benchmarks/scripts/old-vs-new.sh /tmp/old/.build/release/paynode .build/release/paynode 3
# OLD_ARGS / NEW_ARGS: extra loadtest arguments for one side only. A loadtest newer than OLD may
# pass flags OLD does not know, so against a release before the security flags (e.g. 254cff2) use
# OLD's own loadtest for both and give NEW what that loadtest does not:
#   NEW_ARGS="--service-arg=--http-auth --service-arg=off --service-arg=--executor-principal \
#     --service-arg=User:ANONYMOUS --service-arg=--super-users --service-arg=User:ANONYMOUS" \
#   Benchmarks/scripts/old-vs-new.sh /tmp/old/.build/release/paynode .build/release/paynode 5 /tmp/old/.build/release/loadtest
set -euo pipefail
old="$1"; new="$2"; rounds="${3:-3}"
loadtest="${4:-$(dirname "$new")/loadtest}"
work="$(mktemp -d /tmp/paynode-old-vs-new.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cd "$work"

run() {  # run MODE BINARY EXTRA_ARGS -> completed/s
    local mode="$1" binary="$2" extra="$3" out
    if [ "$mode" = pipeline ]; then
        out=$("$loadtest" --mode pipeline --orders 100000 --duration 30 --concurrency 256 --connections 16 \
            --tokens tok_visa --no-check --paynode "$binary" $extra 2>&1)
    else
        out=$("$loadtest" --duration 15 --concurrency 512 --connections 128 --tokens tok_visa \
            --max-outstanding 8192 --no-check --paynode "$binary" $extra 2>&1)
    fi
    echo "$out" | grep -q "PASSED" || { echo "$out" >&2; echo "loadtest did not pass" >&2; exit 1; }
    echo "$out" | sed -n 's/^ *throughput *\([0-9]*\) completed\/s.*/\1/p'
}

echo "rounds=$rounds cores=$(nproc) cpu=\"$(lscpu | sed -n 's/^Model name: *//p')\" old=$old new=$new"
for mode in pipeline full; do
    ratios=()
    for round in $(seq "$rounds"); do
        if [ $((round % 2)) = 1 ]; then a=$(run $mode "$old" "${OLD_ARGS:-}"); b=$(run $mode "$new" "${NEW_ARGS:-}")
        else b=$(run $mode "$new" "${NEW_ARGS:-}"); a=$(run $mode "$old" "${OLD_ARGS:-}"); fi
        ratio=$(python3 -c "print(f'{$b / $a:.3f}')")
        ratios+=("$ratio")
        echo "$mode round $round: old $a/s  new $b/s  new/old $ratio"
    done
    echo "$mode median new/old: $(printf '%s\n' "${ratios[@]}" | sort -n | python3 -c "import sys; v=[float(x) for x in sys.stdin]; print(f'{v[len(v)//2]:.3f}')")"
done
