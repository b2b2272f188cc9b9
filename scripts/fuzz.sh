#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the decoders that read untrusted bytes.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default: 15 s each, every target)
# Builds paynode-fuzz with -sanitize=fuzzer into .build-fuzz, runs each target from its seed
# corpus (Tests/fuzz/corpus/<target>), and fails on the first crash, leaving the input in
# .build-fuzz/crashes/<target>/. Copy such an input into Tests/fuzz/corpus/<target>/ when fixing
# it: `make test` replays the corpus through the normal build, so the crash stays fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-15}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then targets=(kafka-request kafka-frames record-batch event order-json stored-records webhook); fi

swift build --product paynode-fuzz --scratch-path .build-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library 2>&1 | grep -E "error|Compiling PaynodeFuzz|Build" || true
binary=.build-fuzz/debug/paynode-fuzz
[[ -x "$binary" ]] || { echo "fuzz build failed" >&2; exit 1; }

for target in "${targets[@]}"; do
    work=".build-fuzz/corpus/$target"
    crashes=".build-fuzz/crashes/$target"
    mkdir -p "$work" "$crashes"
    echo "fuzzing $target for ${seconds}s"
    # -rss_limit_mb and -malloc_limit_mb turn an unbounded allocation from the input into a crash.
    PAYNODE_FUZZ_TARGET="$target" "$binary" "$work" "Tests/fuzz/corpus/$target" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 \
        -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | grep -E "^#[0-9]+.*DONE|stat::number_of_executed_units|ERROR|crash-|SUMMARY" || true
    if compgen -G "$crashes/*" >/dev/null; then
        echo "fuzz target $target crashed: see $crashes" >&2
        exit 1
    fi
done
echo "fuzzing passed: ${#targets[@]} targets, ${seconds}s each"
