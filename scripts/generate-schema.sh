#!/usr/bin/env bash
# Regenerates Sources/PaymentEvents/Generated/events.pb.swift from schemas/**/*.proto.
# Run it by hand after changing a .proto file and commit its output; builds and `make test` never
# run it (they use the committed Swift code, so they need neither protoc nor the plugin).
#
#   scripts/generate-schema.sh           regenerate the Swift code in place
#   scripts/generate-schema.sh --check   regenerate into a temporary directory and fail if the
#                                        committed code differs
#
# Needs protoc (Debian: apt-get install -y protobuf-compiler) and builds protoc-gen-swift from
# swift-protobuf at the same version as the runtime in Package.swift, in a scratch directory
# outside the repository (reused on later runs; a release build takes a minute or two).
# Environment: SWIFT_PROTOBUF_VERSION (default 1.39.0), SWIFT_PROTOBUF_URL,
# PROTOC_GEN_SWIFT_DIR (the scratch directory), PROTOC.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
version="${SWIFT_PROTOBUF_VERSION:-1.39.0}"
url="${SWIFT_PROTOBUF_URL:-https://github.com/apple/swift-protobuf.git}"
scratch="${PROTOC_GEN_SWIFT_DIR:-${TMPDIR:-/tmp}/paynode-protoc-gen-swift-$version}"
protoc="${PROTOC:-protoc}"
schemas="$repo/schemas"
out="$repo/Sources/PaymentEvents/Generated"

check=false
case "${1:-}" in
    "") ;;
    --check) check=true ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

case "$scratch/" in
    "$repo"/*) echo "error: PROTOC_GEN_SWIFT_DIR must be outside the repository" >&2; exit 1 ;;
esac

if ! command -v "$protoc" >/dev/null 2>&1; then
    echo "error: protoc not found; install it (Debian: apt-get install -y protobuf-compiler)" >&2
    exit 1
fi

# protoc-gen-swift, built once per version.
if [[ ! -d "$scratch/.git" ]]; then
    echo "cloning swift-protobuf into $scratch"
    git clone --quiet "$url" "$scratch"
fi
if [[ "$(git -C "$scratch" rev-parse HEAD)" != "$(git -C "$scratch" rev-parse "$version^{commit}")" ]]; then
    git -C "$scratch" -c advice.detachedHead=false checkout --quiet "$version"
fi
echo "building protoc-gen-swift $version (release) in $scratch"
(cd "$scratch" && swift build -c release --product protoc-gen-swift)
plugin="$(cd "$scratch" && swift build -c release --show-bin-path)/protoc-gen-swift"

generate() {
    local destination="$1"
    mkdir -p "$destination"
    (cd "$schemas" && find . -name '*.proto' -print0 | sort -z | xargs -0 \
        "$protoc" --plugin=protoc-gen-swift="$plugin" \
            --proto_path=. \
            --swift_out="$destination" \
            --swift_opt=Visibility=Public \
            --swift_opt=FileNaming=DropPath)
}

if $check; then
    temporary="$(mktemp -d)"
    trap 'rm -rf "$temporary"' EXIT
    generate "$temporary"
    if diff -ru "$out" "$temporary"; then
        echo "generated code is up to date"
    else
        echo "error: generated code is stale; run scripts/generate-schema.sh and commit" >&2
        exit 1
    fi
else
    generate "$out"
    echo "$("$protoc" --version), protoc-gen-swift $version -> ${out#"$repo"/}"
fi
