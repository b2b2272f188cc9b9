#!/usr/bin/env bash
# A CPU profile of `paynode service` during the PSP-result pipeline's result phase only (orders
# are created first; perf starts when the loadtest starts producing results), so two builds can
# be compared sample for sample over the same work.
# Usage: Benchmarks/scripts/profile-pipeline.sh PAYNODE OUT [ORDERS] [LOADTEST] [LOADTEST_ARGS...]
#   writes OUT.data (perf record -g) and OUT.log (the loadtest's report), prints throughput
#   and the total sample count. Compare two profiles by absolute samples per symbol (total x
#   share), not by perf diff's shares, since the totals differ:
#     perf report -i OUT.data --stdio --no-children --sort dso,symbol -g none
#   Against 254cff2, use 254cff2's own loadtest and give the new node the flags that loadtest
#   does not pass (see old-vs-new.sh).
set -euo pipefail
paynode="$(realpath "$1")"; out="$2"; orders="${3:-150000}"
loadtest="$(realpath "${4:-$(dirname "$paynode")/loadtest}")"
shift $(($# < 4 ? $# : 4))
"$loadtest" --mode pipeline --orders "$orders" --duration 60 --concurrency 256 --connections 16 --tokens tok_visa \
    --no-check --paynode "$paynode" "$@" > "$out.log" 2>&1 &
run=$!
until grep -q "producing their PSP results" "$out.log"; do
    kill -0 "$run" 2>/dev/null || { cat "$out.log" >&2; exit 1; }
    sleep 0.2
done
service=$(pgrep -f "$paynode service" | head -1)
perf record -F 999 -g -p "$service" -o "$out.data" -- sleep 6 > /dev/null 2>&1 || true
wait "$run"
grep -E "throughput|service CPU" "$out.log"
echo "samples: $(perf script -i "$out.data" -F period 2>/dev/null | grep -c . || true)"
