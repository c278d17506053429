#!/usr/bin/env bash
# The main job, end to end on loopback: a sync server, three enrolled phones (district nurse,
# virtual-ward clinician, advice worker), a day of visits offline, one sync each, and what every
# phone then holds; then the district nurse's day, the virtual ward and remote monitoring, a
# Citizens Advice case worker's day (appointments, a did-not-attend) and a referral between teams, then the
# month's Community Services Data Set extract from the server's database.
# (The single-device offline example is still there:
# cargo run -p doorstep-core --example offline_visit)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup-rust.sh
cargo run --release -p doorstep-cli -- demo "$@"
