#!/usr/bin/env bash
# The main job: a nurse records a visit with no network and reads the caseload.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-rust.sh
cargo run --release -p doorstep-core --example offline_visit "$@"
