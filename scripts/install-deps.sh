#!/usr/bin/env bash
# Installs what building and testing paynode needs and is missing: Debian packages only when
# absent (so a prepared machine does no network work). Usage: install-deps.sh [build|test|bench]
set -euo pipefail

mode="${1:-build}"
packages=(liblmdb-dev zlib1g-dev libjemalloc-dev pkg-config)
# The tests drive the broker with real Kafka clients: Debian's kcat (librdkafka 2.0.2) and, from
# PyPI, confluent-kafka (a current librdkafka) and kafka-python. A real Prometheus server (and
# promtool) scrapes the nodes and checks the dashboard's queries and the alerting rules.
if [[ "$mode" == "test" ]]; then
    packages+=(kcat python3 python3-pip curl prometheus)
fi
# The benchmark scripts (Benchmarks/scripts) drive the nodes with ordinary clients too: wrk
# (keep-alive HTTP/1.1, no pipelining) and nghttp2's h2load (HTTP/2).
if [[ "$mode" == "bench" ]]; then
    packages+=(wrk nghttp2-client curl python3)
fi

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

if [[ "$mode" == "test" ]]; then
    # cryptography: test_tls.py issues expired and rotated certificates with it. localstripe: a
    # stateful Stripe fake the Stripe adapter is tested against (test_psp_adapters.py).
    if ! python3 -c "import confluent_kafka, kafka, pytest, cryptography, localstripe" >/dev/null 2>&1; then
        echo "installing Python test clients: confluent-kafka kafka-python pytest cryptography localstripe"
        python_packages=(confluent-kafka kafka-python pytest cryptography localstripe==1.15.10)
        python3 -m pip install --quiet --disable-pip-version-check "${python_packages[@]}" 2>/dev/null \
            || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "${python_packages[@]}"
    fi
fi

echo "dependencies for '$mode' are present"
