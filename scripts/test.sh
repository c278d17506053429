#!/usr/bin/env bash
# Every test, on a fresh machine: installs what it needs, then runs the Rust tests.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-rust.sh
start=$(date +%s)
echo "== Rust: unit, property, crash and cross-crate tests"
cargo test --workspace --locked
echo "== Benchmarks compile"
cargo build --benches --locked -p doorstep-core
echo "== all tests passed in $(( $(date +%s) - start )) s"
