#!/usr/bin/env bash
# Long fuzzing runs (CI runs the bounded mutation tests instead: see fuzz/Cargo.toml).
#   scripts/fuzz.sh [seconds per target, default 300]
# Needs nightly Rust (installed here) and cargo-fuzz (installed on first use). Crashes and the
# inputs that caused them land in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
seeds=fuzz/corpus/change_validation
mkdir -p "$seeds" fuzz/corpus/protocol_decode
# Seed the change target with real changes a store writes (the first byte picks the compartment).
if [ -z "$(ls -A "$seeds")" ]; then
  DOORSTEP_FUZZ_SEEDS="$PWD/$seeds" cargo test -q -p doorstep-core --lib write_fuzz_seeds -- --ignored
fi
for target in change_validation protocol_decode; do
  echo "== $target for ${secs}s"
  (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048)
done
# The end-to-end run through a real server and devices, longer than CI's 100,000.
DOORSTEP_FUZZ_CHANGES=${DOORSTEP_FUZZ_CHANGES:-1000000} \
  cargo test --release -p doorstep-tests --test record_rules sqlite_fuzzed -- --nocapture
