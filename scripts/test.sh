#!/usr/bin/env bash
# Installs what the test suite needs and runs every test (unit, integration, end-to-end).
# Root installs Debian packages; everyone installs the Python client with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    need=""
    for pkg in etcd-server etcd-client nftables iproute2 apache2-utils wrk dnsutils haproxy libsqlite3-dev curl; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
    done
    if [ -n "$need" ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    fi
fi
python3 -c 'import kubernetes' 2>/dev/null || python3 -m pip install -q kubernetes

swift build --build-tests
if [ "$#" -gt 0 ]; then
    exec swift test --skip-build "$@"
fi
# Two runs: the end-to-end tests drive processes with blocking waits, and Swift Testing runs them on the
# cooperative thread pool (one thread per core); run beside the async unit and integration tests they
# would starve those of threads on a small machine.
# The streaming tests run real kubectl against servers inside the test process: they get the pool to
# themselves too.
swift test --skip-build --skip HerdE2ETests --skip StreamingKubectlTests
swift test --skip-build --filter StreamingKubectlTests
swift test --skip-build --filter HerdE2ETests
