#!/usr/bin/env bash
# Installs what building and testing paynode needs and is missing: Debian packages only when
# absent (so a prepared machine does no network work). Usage: install-deps.sh [build|test]
set -euo pipefail

mode="${1:-build}"
packages=(liblmdb-dev zlib1g-dev pkg-config)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} > 0)); then
    echo "installing Debian packages: ${missing[*]}"
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "error: the Swift toolchain (6.1 or newer) is not on PATH; install it from swift.org" >&2
    exit 1
fi

echo "dependencies for '$mode' are present"
