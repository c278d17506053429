#!/usr/bin/env bash
# Every test, on a fresh machine: installs what it needs, then runs the Rust tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-rust.sh
start=$(date +%s)
# PostgreSQL server binaries: the PostgreSQL backend's tests start a private server with them.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "== Installing PostgreSQL (for the PostgreSQL backend tests)"
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
export DOORSTEP_PG_BIN="${DOORSTEP_PG_BIN:-$(dirname "$(ls -d /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")}"
echo "== Rust: unit, property, crash and cross-crate tests"
cargo test --workspace --locked
echo "== Benchmarks compile"
cargo build --benches --locked -p doorstep-core
echo "== all tests passed in $(( $(date +%s) - start )) s"
